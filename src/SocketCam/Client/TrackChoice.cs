using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Client;

/// <summary>Which track `view --participant NAME --track LABEL` watches: the earliest matching video track a viewer can decode.</summary>
internal static class TrackChoice
{
    public static TrackRecord? Pick(IReadOnlyList<ParticipantRecord> participants, IReadOnlyList<TrackRecord> tracks, string? participant, string? track)
    {
        foreach (TrackRecord t in tracks)
        {
            if (t.Description.Kind != TrackKind.Video || !CodecIds.IsWatchableVideo(t.Description.Codec))
            {
                continue;
            }

            ParticipantRecord? owner = participants.FirstOrDefault(p => p.ParticipantId == t.ParticipantId);
            if (participant is not null && (owner is null || !string.Equals(owner.Name, participant, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (track is not null && !Matches(t.Description, track))
            {
                continue;
            }

            return t;
        }

        return null;
    }

    /// <summary>
    /// The audio track a viewer hears with the video it watches: <paramref name="ownerId"/>'s first Opus track when it
    /// watches someone, else the first Opus track of the participant named (or of anyone).
    /// </summary>
    public static TrackRecord? PickAudio(IReadOnlyList<ParticipantRecord> participants, IReadOnlyList<TrackRecord> tracks, uint? ownerId, string? participant)
    {
        foreach (TrackRecord t in tracks)
        {
            if (t.Description.Kind != TrackKind.Audio || t.Description.Codec != CodecId.Opus)
            {
                continue;
            }

            if (ownerId is { } id ? t.ParticipantId != id
                : participant is not null && !participants.Any(p => p.ParticipantId == t.ParticipantId && string.Equals(p.Name, participant, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            return t;
        }

        return null;
    }

    /// <summary>A label matches the track's name, its source (camera, screen, file, synthetic...), or its id.</summary>
    public static bool Matches(TrackDescription d, string label) =>
        string.Equals(d.Name, label, StringComparison.OrdinalIgnoreCase)
        || string.Equals(d.Source.ToString(), label, StringComparison.OrdinalIgnoreCase)
        || (ushort.TryParse(label, out ushort id) && id == d.TrackId);

    public static string Waiting(string? participant, string? track) =>
        (participant, track) switch
        {
            (null, null) => "waiting for a video track",
            (string p, null) => $"waiting for {p}'s video",
            (null, string t) => $"waiting for a '{t}' track",
            (string p, string t) => $"waiting for {p}'s '{t}' track",
        };
}
