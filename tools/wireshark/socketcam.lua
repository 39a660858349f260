-- socketcam.lua: a Wireshark/tshark (4.0+) dissector for SocketCam's wire formats.
--
-- Formats (docs/PROTOCOL.md):
--   * stream sessions over TCP (§1.1-1.4 version 1, Part II §4 version 2): "SCAM" preface, then
--     messages with an 8-byte header (type, flags, reserved, length; big-endian)
--   * live video over UDP (§2.0): "SCUV" datagrams, plain or sealed (encrypted)
--   * image transfer (§2.1): "SCIM" headers over TCP (TCP_OFFER / TCP_RESULT) and UDP
--   * the seed tutorials' format (§3): u64 little-endian length + a Python pickle
--
-- Install: copy to ~/.local/lib/wireshark/plugins/ or run tshark -X lua_script:socketcam.lua
-- Malformed traffic: display filter  _ws.malformed || _ws.expert.severity >= error
-- (every problem is the expert info socketcam.malformed, group Malformed, severity Error).
-- See docs/WIRESHARK.md.

local proto = Proto("socketcam", "SocketCam")

local MiB = 1024 * 1024
local KiB = 1024

---------------------------------------------------------------------------------------------------
-- Value names
---------------------------------------------------------------------------------------------------

local msg_types = {
    [0x01] = "HELLO", [0x02] = "WELCOME", [0x03] = "JOIN", [0x04] = "RESULT",
    [0x05] = "LIST_ROOMS", [0x06] = "ROOM_LIST",
    [0x10] = "VIDEO_FRAME", [0x11] = "SIGNAL", [0x12] = "FRAME", [0x13] = "KEYFRAME_REQUEST",
    [0x14] = "SOURCE_STATE",
    [0x20] = "PING", [0x21] = "PONG", [0x30] = "ERROR", [0x31] = "GOODBYE",
    [0x40] = "ROOM_SNAPSHOT", [0x41] = "PARTICIPANT_JOINED", [0x42] = "PARTICIPANT_LEFT",
    [0x43] = "TRACK_PUBLISHED", [0x44] = "TRACK_UNPUBLISHED", [0x45] = "TRACK_STATE",
    [0x50] = "PUBLISH", [0x51] = "UNPUBLISH", [0x52] = "SUBSCRIBE", [0x53] = "UNSUBSCRIBE",
    [0x54] = "CHAT_SEND",
    [0x60] = "UDP_KEY_REQUEST", [0x61] = "UDP_KEY",
    [0x87] = "CHAT_HISTORY", [0xC6] = "CHAT_MESSAGE",
}

-- Which types each version knows, and their payload caps (PROTOCOL §1.2, §4.2).
-- FRAME/VIDEO_FRAME caps depend on max_frame_bytes and are computed at run time.
local v1_caps = {
    [0x01] = KiB, [0x02] = KiB, [0x10] = -24, [0x11] = 4 + KiB, [0x20] = 16, [0x21] = 24,
    [0x30] = 4 + KiB, [0x31] = 4 + KiB, [0x60] = KiB, [0x61] = 84,
}
local v2_caps = {
    [0x02] = KiB, [0x03] = 8 * KiB, [0x04] = 2 * KiB, [0x05] = 4098, [0x06] = MiB,
    [0x12] = -32, [0x13] = 256, [0x14] = 2 * KiB,
    [0x20] = 16, [0x21] = 24, [0x30] = 4 + KiB, [0x31] = 4 + KiB,
    [0x40] = 64 * KiB, [0x41] = 4 * KiB, [0x42] = 256, [0x43] = 4 * KiB, [0x44] = 256, [0x45] = 2 * KiB,
    [0x50] = KiB, [0x51] = 256, [0x52] = 256, [0x53] = 256, [0x54] = 64 * KiB,
    [0x87] = 64 * KiB, [0xC6] = 64 * KiB,
}
-- v1-only types that a v2 session must not carry (§4.2: a known type out of place is malformed)
local v1_only = { [0x01] = true, [0x10] = true, [0x11] = true, [0x60] = true, [0x61] = true }

local error_codes = {
    [0] = "normal", [1] = "bad-magic", [2] = "unsupported-version", [3] = "malformed", [4] = "too-large",
    [5] = "unauthorized", [6] = "handshake-timeout", [7] = "room-busy", [8] = "bad-frame",
    [9] = "server-shutdown", [10] = "idle-timeout", [11] = "too-many-clients", [12] = "throttled",
    [13] = "too-slow", [14] = "over-budget", [15] = "unknown-type", [16] = "room-full",
    [17] = "track-exists", [18] = "unknown-track", [19] = "not-published", [20] = "too-many-tracks",
    [21] = "too-many-subscriptions", [22] = "rate-limited", [23] = "slow-consumer",
    [24] = "unsupported-media", [25] = "not-allowed", [26] = "connection-lost", [27] = "unavailable",
}
local roles = { [1] = "publisher", [2] = "viewer" }
local codecs = { [1] = "JPEG", [2] = "raw BGR24", [3] = "H.264", [64] = "Opus", [65] = "PCM s16le" }
local codec_short = { [1] = "jpeg", [2] = "raw", [3] = "h264", [64] = "opus", [65] = "pcm" }
local kinds = { [1] = "video", [2] = "audio", [3] = "data" }
local sources = { [0] = "unknown", [1] = "camera", [2] = "screen", [3] = "microphone", [4] = "screen audio",
    [5] = "file", [6] = "synthetic" }
local transports = { [0] = "other", [1] = "hub", [2] = "tcp", [3] = "unix", [4] = "udp", [5] = "websocket",
    [6] = "seed-tcp", [7] = "tls" }
local states = { [0] = "no signal", [1] = "live" }

local udp_types = {
    [0x01] = "HELLO", [0x02] = "WELCOME", [0x03] = "REFUSE", [0x10] = "FRAGMENT", [0x11] = "NACK",
    [0x12] = "REPORT", [0x13] = "DONE", [0x15] = "AUDIO", [0x16] = "AUDIO_NACK",
    [0x17] = "KEYFRAME_REQUEST", [0x20] = "PING", [0x21] = "PONG", [0x30] = "SIGNAL", [0x31] = "BYE",
}
local kfr_reasons_udp = { [0] = "other", [1] = "frame lost", [2] = "decoder waits for a keyframe" }
local kfr_reasons = { [0] = "asked", [1] = "new subscriber", [2] = "hub dropped a needed frame" }

local image_types = {
    [0x01] = "DATA", [0x02] = "NACK", [0x03] = "ACK", [0x04] = "DONE", [0x05] = "ABORT",
    [0x10] = "TCP_OFFER", [0x11] = "TCP_RESULT",
}
local image_codes = { [0] = "ok", [1] = "gave-up", [2] = "cancelled", [3] = "too-large",
    [4] = "checksum-mismatch", [5] = "write-failed", [6] = "timeout", [7] = "unsupported-version" }

---------------------------------------------------------------------------------------------------
-- Fields
---------------------------------------------------------------------------------------------------

local f = {}
local function U8(n, l, vs, b) f[n] = ProtoField.uint8("socketcam." .. n, l, b or base.DEC, vs) end
local function U16(n, l, vs, b) f[n] = ProtoField.uint16("socketcam." .. n, l, b or base.DEC, vs) end
local function U32(n, l, vs, b) f[n] = ProtoField.uint32("socketcam." .. n, l, b or base.DEC, vs) end
local function U64(n, l, b) f[n] = ProtoField.uint64("socketcam." .. n, l, b or base.DEC) end
local function I64(n, l) f[n] = ProtoField.int64("socketcam." .. n, l, base.DEC) end
local function STR(n, l) f[n] = ProtoField.string("socketcam." .. n, l) end
local function BYT(n, l) f[n] = ProtoField.bytes("socketcam." .. n, l) end
local function BOOL(n, l, bits, mask) f[n] = ProtoField.bool("socketcam." .. n, l, bits, nil, mask) end

-- preface
STR("magic", "Magic")
U16("version", "Session version")
U16("preface.version", "Preface version")
U16("preface.max_version", "Max version (reserved in v1)")
-- header
U8("msg.type", "Message type", msg_types, base.HEX)
U8("msg.flags", "Flags", nil, base.HEX)
BOOL("msg.optional", "Optional type (bit 7)", 8, 0x80)
U16("msg.reserved", "Reserved", nil, base.HEX)
U32("msg.length", "Payload length")
BYT("msg.payload", "Payload")
BYT("msg.data", "Data")
-- HELLO / JOIN / LIST_ROOMS / UDP_KEY_REQUEST
U8("hello.role", "Role", roles)
STR("room", "Room")
STR("token", "Token")
STR("agent", "Agent")
STR("name", "Name")
U64("features", "Features", base.HEX)
U16("join.flags", "Join flags", nil, base.HEX)
BOOL("join.hidden", "Hidden", 16, 0x0001)
U64("join.chat_after", "Chat after (resume)")
U64("chat.store", "Chat store", base.HEX)
-- WELCOME
U64("session_id", "Session id", base.HEX)
I64("server_time_us", "Server time (us)")
U32("max_frame_bytes", "Max frame bytes")
U32("participant_id", "Participant id")
U64("room_epoch", "Room epoch", base.HEX)
U32("permissions", "Permissions", nil, base.HEX)
U16("welcome.max_tracks", "Max tracks")
U16("welcome.max_subscriptions", "Max subscriptions")
U16("welcome.max_participants", "Max participants")
U16("welcome.request_burst", "Request burst")
U16("welcome.request_rate", "Request rate (/s)")
U16("welcome.keyframe_interval_ms", "Keyframe interval (ms)")
U32("welcome.control_queue_messages", "Control queue (messages)")
U32("welcome.control_queue_bytes", "Control queue (bytes)")
U16("welcome.chat_max_bytes", "Chat max bytes")
U16("welcome.chat_burst", "Chat burst")
U16("welcome.chat_rate_x10", "Chat rate (per 10 s)")
U16("welcome.chat_history", "Chat history")
-- RESULT / requests
U32("request_id", "Request id")
U16("code", "Code", error_codes)
U32("result.value", "Value")
STR("text", "Text")
U16("text_len", "Text length")
U64("result.chat_seq", "Chat sequence")
I64("result.sent_at_us", "Sent at (us)")
-- VIDEO_FRAME / FRAME
U8("frame.codec", "Codec", codecs)
U8("frame.kind", "Kind", kinds)
U8("frame.flags", "Frame flags", nil, base.HEX)
BOOL("frame.keyframe", "Keyframe", 8, 0x01)
BOOL("frame.droppable", "Droppable", 8, 0x02)
BOOL("frame.discontinuity", "Discontinuity", 8, 0x04)
U8("frame.layer", "Layer")
U16("frame.ext_len", "Extension length")
U16("frame.width", "Width")
U16("frame.height", "Height")
U16("frame.samples", "Samples per channel")
U64("frame.sequence", "Sequence")
I64("frame.capture_us", "Capture time (us)")
U32("frame.participant_id", "Participant id")
U16("frame.track_id", "Track id")
BYT("frame.extensions", "Extensions")
-- SIGNAL / states
U8("state", "State", states)
-- PING / PONG
U32("ping.id", "Ping id")
I64("ping.sent_us", "Sent (us)")
I64("pong.peer_time_us", "Peer time (us)")
U32("ping.rtt_us", "Round trip (us)")
-- UDP_KEY
U16("udp_key.port", "UDP port")
BYT("udp_key.client_key", "Client key")
BYT("udp_key.hub_key", "Hub key")
U32("udp_key.client_salt", "Client salt", nil, base.HEX)
U32("udp_key.hub_salt", "Hub salt", nil, base.HEX)
-- events, records
U64("event_seq", "Event sequence")
U16("snapshot.chunk", "Chunk")
U8("snapshot.flags", "Chunk flags", nil, base.HEX)
BOOL("snapshot.last", "Last chunk", 8, 0x01)
U16("participant_count", "Participants")
U16("track_count", "Tracks")
U16("record_len", "Record length")
U8("participant.transport", "Transport", transports)
U8("participant.flags", "Participant flags", nil, base.HEX)
I64("participant.joined_at_us", "Joined at (us)")
U16("reason", "Reason", error_codes)
U16("track.id", "Track id")
U8("track.kind", "Kind", kinds)
U8("track.codec", "Codec", codecs)
U8("track.source", "Source", sources)
U8("track.flags", "Track flags", nil, base.HEX)
U16("track.width", "Width")
U16("track.height", "Height")
U16("track.channels", "Channels")
U16("track.b", "b (0 for audio)")
U8("track.layers", "Layers")
U32("track.rate", "Rate")
U32("track.packet_us", "Packet duration (us)")
U32("track.bitrate", "Bitrate (bit/s)")
U8("subscribe.kinds", "Kinds", nil, base.HEX)
U8("subscribe.max_layer", "Max layer")
U8("keyframe.reason", "Reason", kfr_reasons)
-- ROOM_LIST
U16("rooms.count", "Rooms")
U8("rooms.flags", "List flags", nil, base.HEX)
U32("rooms.record_len", "Entry length")
U32("rooms.hidden_watchers", "Hidden watchers")
-- chat
STR("chat.text", "Chat text")
U32("chat.text_len", "Text length")
U64("chat.client_msg_id", "Client message id", base.HEX)
U64("chat.seq", "Chat sequence")
I64("chat.sent_at_us", "Sent at (us)")
U16("chat.chunk", "Chunk")
U8("chat.flags", "History flags", nil, base.HEX)
U16("chat.count", "Records")
-- UDP (SCUV)
STR("udp.magic", "Magic")
U8("udp.version", "Version")
U8("udp.type", "Datagram type", udp_types, base.HEX)
U16("udp.reserved", "Reserved", nil, base.HEX)
BOOL("udp.sealed", "Sealed (encrypted)", 16, 0x0100)
U64("udp.session_id", "Session id", base.HEX)
U64("udp.nonce", "Nonce", base.HEX)
U8("udp.hello_flags", "Flags", nil, base.HEX)
U32("udp.frame_id", "Frame id")
U16("udp.index", "Index")
U16("udp.data_count", "Data fragments")
U8("udp.group", "Parity group")
U16("udp.payload_len", "Payload length")
U32("udp.total_length", "Total length")
BYT("udp.payload", "Payload")
U16("udp.fragment_payload", "Fragment payload")
U16("udp.max_version", "Max version")
U16("udp.count", "Count")
U16("udp.nack_index", "NACKed index")
U32("udp.fragments_expected", "Fragments expected")
U32("udp.fragments_lost", "Fragments lost")
U32("udp.frames_completed", "Frames completed")
U32("udp.frames_lost", "Frames lost")
U32("udp.packet_id", "Packet id")
U8("udp.channels", "Channels")
U16("udp.samples", "Samples")
U8("udp.audio_flags", "Audio flags", nil, base.HEX)
U8("udp.kfr_reason", "Reason", kfr_reasons_udp)
U64("udp.counter", "Seal counter")
BYT("udp.encrypted", "Encrypted payload")
BYT("udp.tag", "Authentication tag")
BYT("udp.padding", "Padding")
-- SCIM
STR("image.magic", "Magic")
U8("image.version", "Version")
U8("image.type", "Image message type", image_types, base.HEX)
U64("image.transfer_id", "Transfer id", base.HEX)
U64("image.length", "File length")
U32("image.crc32", "CRC-32", nil, base.HEX)
U16("image.code", "Code", image_codes)
U64("image.value", "Value")
U32("image.index", "Part index")
U32("image.count", "Parts")
U16("image.payload_len", "Payload length")
BYT("image.payload", "Payload")
U32("image.missing", "Missing parts")
U16("image.range_count", "Ranges")
U16("image.sequence", "NACK sequence")
U32("image.range_first", "Range first")
U32("image.range_length", "Range length")
BYT("image.file_data", "File data")
-- seed
U64("seed.length", "Pickle length")
U8("seed.pickle_protocol", "Pickle protocol")
STR("seed.shape", "Array shape")
BYT("seed.pickle", "Pickle")
BYT("unexpected", "Unexpected data")

local flist = {}
for _, v in pairs(f) do flist[#flist + 1] = v end
proto.fields = flist

local ef_malformed = ProtoExpert.new("socketcam.malformed", "Malformed SocketCam data",
    expert.group.MALFORMED, expert.severity.ERROR)
local ef_note = ProtoExpert.new("socketcam.note", "SocketCam note", expert.group.SEQUENCE, expert.severity.NOTE)
proto.experts = { ef_malformed, ef_note }

---------------------------------------------------------------------------------------------------
-- Preferences
---------------------------------------------------------------------------------------------------

-- 9999 is SocketCam's default port. A port-table dissector wins over heuristics, so a hub on a port Wireshark
-- gives to another protocol (19999 is GPRS-NS's over UDP, for one) needs its port added here. Every datagram on
-- these UDP ports is read as SocketCam's; TCP connections on them that do not start like SocketCam go to
-- the dissector the port had before (or, for TLS, to TLS).
proto.prefs.tcp_ports = Pref.range("TCP ports", "9999", "TCP ports decoded as SocketCam (the heuristics find other ports)", 65535)
proto.prefs.udp_ports = Pref.range("UDP ports", "9999", "UDP ports decoded as SocketCam (the heuristics find other ports)", 65535)
proto.prefs.heuristics = Pref.bool("Heuristics", true, "Recognise SocketCam by content on any port")

---------------------------------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------------------------------

local function bad(item, pinfo, msg)
    item:add_proto_expert_info(ef_malformed, msg)
end

-- A bounded reader over tvb[base, base+limit). Reads beyond limit mark the tree and raise TRUNC.
local TRUNC = {}
local Reader = {}
Reader.__index = Reader
local function reader(tvb, tree, off, limit, what)
    return setmetatable({ tvb = tvb, tree = tree, off = off, limit = limit, what = what or "payload" }, Reader)
end
function Reader:left() return self.limit - self.off end
function Reader:need(n, name)
    if self.off + n > self.limit then
        local avail = self.limit - self.off
        if self.snapped then -- the capture kept fewer bytes than the datagram had: not the sender's fault
            self.tree:add_proto_expert_info(ef_note, "packet size limited during capture")
            error(TRUNC)
        end
        local it
        if avail > 0 then it = self.tree:add(self.tvb(self.off, avail), "[truncated " .. name .. "]")
        else it = self.tree end
        it:add_proto_expert_info(ef_malformed, string.format("%s too short: %s needs %d bytes, %d left",
            self.what, name, n, avail))
        error(TRUNC)
    end
end
function Reader:range(n, name)
    self:need(n, name)
    local r = self.tvb(self.off, n)
    self.off = self.off + n
    return r
end
function Reader:add(field, n, name, t)
    local r = self:range(n, name or "field")
    local it = (t or self.tree):add(field, r)
    return r, it
end
function Reader:u8(field, t) local r, it = self:add(field, 1, nil, t); return r:uint(), it end
function Reader:u16(field, t) local r, it = self:add(field, 2, nil, t); return r:uint(), it end
function Reader:u32(field, t) local r, it = self:add(field, 4, nil, t); return r:uint(), it end
function Reader:u64(field, t) local r, it = self:add(field, 8, nil, t); return r:uint64(), it end
function Reader:i64(field, t) local r, it = self:add(field, 8, nil, t); return r:int64(), it end
function Reader:skip(n, name) self:need(n, name or "reserved"); self.off = self.off + n end
-- a length-prefixed string; lenbytes 1, 2 or 4
function Reader:lstr(lenfield, lenbytes, strfield, maxlen, minlen, t)
    local tt = t or self.tree
    local lr = self:range(lenbytes, "length")
    local n = lr:uint()
    local lit = lenfield and tt:add(lenfield, lr) or nil
    if (maxlen and n > maxlen) or (minlen and n < minlen) then
        local it = lit or tt:add(lr, "Length: " .. n)
        it:add_proto_expert_info(ef_malformed, string.format("length %d outside %d..%d", n, minlen or 0, maxlen))
    end
    if n == 0 then
        tt:add(strfield, self.tvb(self.off, 0), "")
        return ""
    end
    local r = self:range(n, "text")
    local s = r:string(ENC_UTF_8)
    tt:add(strfield, r, s)
    return s, r
end

local function has_ctl(s, allow_ws)
    for i = 1, #s do
        local b = s:byte(i)
        if b < 32 or b == 127 then
            if not (allow_ws and (b == 9 or b == 10 or b == 13)) then return true end
        end
    end
    return false
end

local function check_text(item, s, pinfo, allow_ws)
    if s and has_ctl(s, allow_ws) then
        item:add_proto_expert_info(ef_malformed, "text contains control characters")
    end
end

local function short_text(s, n)
    n = n or 40
    s = s:gsub("[%c]", " ")
    if #s > n then s = s:sub(1, n) .. "..." end
    return s
end

local function append_info(pinfo, s)
    local cur = tostring(pinfo.cols.info)
    if cur == "" or cur == nil then pinfo.cols.info:set(s) else pinfo.cols.info:append(", " .. s) end
end

local function vname(tbl, v) return tbl[v] or string.format("unknown(%d)", v) end

---------------------------------------------------------------------------------------------------
-- Records (§4.5, §4.15)
---------------------------------------------------------------------------------------------------

local function track_description(rd, t, pinfo)
    local tid = rd:u16(f["track.id"], t)
    local kind, kit = rd:u8(f["track.kind"], t)
    local codec, cit = rd:u8(f["track.codec"], t)
    rd:u8(f["track.source"], t)
    rd:u8(f["track.flags"], t)
    local a, b
    if kind == 2 then
        a = rd:u16(f["track.channels"], t); b = rd:u16(f["track.b"], t)
    else
        local ait, bit
        a, ait = rd:u16(f["track.width"], t); b, bit = rd:u16(f["track.height"], t)
        if a > 8192 then bad(ait, pinfo, "width above 8192") end
        if b > 8192 then bad(bit, pinfo, "height above 8192") end
    end
    rd:u8(f["track.layers"], t)
    rd:skip(1)
    rd:u32(f["track.rate"], t)
    rd:u32(f["track.packet_us"], t)
    rd:u32(f["track.bitrate"], t)
    local name = rd:lstr(nil, 1, f["name"], 64, 0, t)
    if kind == 0 then bad(kit, pinfo, "kind 0 is invalid") end
    if codec == 0 then bad(cit, pinfo, "codec 0 is invalid") end
    return tid, kind, codec, a, b, name
end

-- One length-prefixed record (§4.5): record_len read and checked against the message, the fields read by
-- body(sub, t) within it, and the reader moved past the record whatever the body managed (a record may be longer
-- than this version's fields, or cut short). Returns what body returned.
local function framed_record(rd, tree, pinfo, title, body)
    local start = rd.off
    local rl_r = rd:range(2, "record_len")
    local rl = rl_r:uint()
    local t = tree:add(rd.tvb(start, math.min(math.max(rl, 2), rd.limit - start)), title)
    local rlit = t:add(f["record_len"], rl_r)
    local sub = reader(rd.tvb, t, rd.off, math.min(start + rl, rd.limit), string.lower(title))
    if start + rl > rd.limit then bad(rlit, pinfo, "record runs past the message") end
    local result
    local ok, err = pcall(function() result = body(sub, t) end)
    if not ok and err ~= TRUNC then error(err) end
    rd.off = math.min(start + math.max(rl, 2), rd.limit)
    if not ok then error(TRUNC) end
    return result
end

local function participant_record(rd, tree, pinfo)
    framed_record(rd, tree, pinfo, "Participant record", function(sub, t)
        sub:u8(f["participant.transport"])
        sub:u8(f["participant.flags"])
        local pid = sub:u32(f["participant_id"])
        sub:i64(f["participant.joined_at_us"])
        local name = sub:lstr(nil, 1, f["name"], 64, 0)
        t:append_text(string.format(": p%d %q", pid, short_text(name, 30)))
    end)
end

local function track_record(rd, tree, pinfo)
    framed_record(rd, tree, pinfo, "Track record", function(sub, t)
        sub:u8(f["state"])
        sub:skip(1)
        local pid = sub:u32(f["participant_id"])
        local tid, kind, codec = track_description(sub, t, pinfo)
        sub:lstr(f["text_len"], 2, f["text"], 1024, 0)
        t:append_text(string.format(": p%d t%d %s %s", pid, tid, vname(kinds, kind), vname(codec_short, codec)))
    end)
end

-- Returns the message's text ("" when the record was cut before it).
local function chat_record(rd, tree, pinfo)
    local text = ""
    framed_record(rd, tree, pinfo, "Chat record", function(sub, t)
        local seq = sub:u64(f["chat.seq"])
        sub:i64(f["chat.sent_at_us"])
        sub:u32(f["participant_id"])
        sub:u64(f["chat.client_msg_id"])
        local name = sub:lstr(nil, 1, f["name"], 64, 0)
        text = sub:lstr(nil, 2, f["chat.text"], 4096, 1)
        t:append_text(string.format(": #%s %s: %q", tostring(seq), short_text(name, 20), short_text(text)))
    end)
    return text
end

---------------------------------------------------------------------------------------------------
-- Stream messages (§1.4, §4.6, §4.7, §4.15)
---------------------------------------------------------------------------------------------------

-- Dissects one message's payload. Returns the Info text.
local function message_body(ty, ver, rd, pinfo, t, hdr_len_item, st)
    local name = vname(msg_types, ty)
    local info = name
    local plen = rd.limit - rd.off

    if ty == 0x01 or ty == 0x60 then -- HELLO, UDP_KEY_REQUEST
        local role, rit = rd:u8(f["hello.role"])
        if role ~= 1 and role ~= 2 then bad(rit, pinfo, "role must be 1 or 2") end
        local room = rd:lstr(nil, 1, f["room"], 64, 1)
        rd:lstr(nil, 1, f["token"], 255, 0)
        local agent, ar = rd:lstr(nil, 1, f["agent"], 64, 0)
        if ar then check_text(t, agent, pinfo) end
        info = string.format("%s %s room %s", name, vname(roles, role), room)
    elseif ty == 0x02 then -- WELCOME
        local sid = rd:u64(f["session_id"])
        rd:i64(f["server_time_us"])
        local mfb = rd:u32(f["max_frame_bytes"])
        if mfb > 0 then st.max_frame_bytes = mfb end
        info = string.format("WELCOME session %s", sid:tohex())
        if ver == 2 then
            local pid = rd:u32(f["participant_id"])
            rd:u64(f["room_epoch"])
            rd:u64(f["features"])
            rd:u32(f["permissions"])
            rd:u16(f["welcome.max_tracks"]); rd:u16(f["welcome.max_subscriptions"])
            rd:u16(f["welcome.max_participants"]); rd:u16(f["welcome.request_burst"])
            rd:u16(f["welcome.request_rate"]); rd:u16(f["welcome.keyframe_interval_ms"])
            rd:u32(f["welcome.control_queue_messages"]); rd:u32(f["welcome.control_queue_bytes"])
            if rd:left() >= 16 then
                rd:u64(f["chat.store"]); rd:u16(f["welcome.chat_max_bytes"]); rd:u16(f["welcome.chat_burst"])
                rd:u16(f["welcome.chat_rate_x10"]); rd:u16(f["welcome.chat_history"])
            end
            info = info .. string.format(" p%d", pid)
        end
    elseif ty == 0x03 then -- JOIN
        rd:u64(f["features"])
        local fr = rd:range(2, "join_flags")
        local ft = t:add(f["join.flags"], fr); ft:add(f["join.hidden"], fr)
        local room = rd:lstr(nil, 1, f["room"], 64, 1)
        local nm = rd:lstr(nil, 1, f["name"], 64, 0)
        rd:lstr(f["text_len"], 2, f["token"], 4096, 0)
        rd:lstr(nil, 1, f["agent"], 64, 0)
        if rd:left() >= 16 then rd:u64(f["join.chat_after"]); rd:u64(f["chat.store"]) end
        info = string.format("JOIN room %s name %q%s", room, short_text(nm, 30),
            (fr:uint() % 2 == 1) and " hidden" or "")
    elseif ty == 0x04 then -- RESULT
        local rid = rd:u32(f["request_id"])
        local code = rd:u16(f["code"])
        local tlr = rd:range(2, "text_len"); t:add(f["text_len"], tlr)
        rd:u32(f["result.value"])
        local tl = tlr:uint()
        local txt = ""
        if tl > 1024 then bad(t, pinfo, "text_len above 1024") end
        if tl > 0 then
            local r = rd:range(tl, "text"); txt = r:string(ENC_UTF_8); t:add(f["text"], r, txt)
        end
        if rd:left() >= 16 then rd:u64(f["result.chat_seq"]); rd:i64(f["result.sent_at_us"]) end
        info = string.format("RESULT req %d %s", rid, code == 0 and "ok" or vname(error_codes, code))
        if code ~= 0 and txt ~= "" then info = info .. string.format(" %q", short_text(txt)) end
    elseif ty == 0x05 then -- LIST_ROOMS
        rd:lstr(f["text_len"], 2, f["token"], 4096, 0)
    elseif ty == 0x06 then -- ROOM_LIST
        local n = rd:u16(f["rooms.count"])
        rd:u8(f["rooms.flags"]); rd:skip(1)
        for i = 1, n do
            local start = rd.off
            local rlr = rd:range(4, "record_len")
            local rl = rlr:uint()
            local rt = t:add(rd.tvb(start, math.min(math.max(rl, 4), rd.limit - start)), "Room entry")
            local rlit = rt:add(f["rooms.record_len"], rlr)
            if rl < 4 or start + rl > rd.limit then bad(rlit, pinfo, "room entry length out of range") ; error(TRUNC) end
            local sub = reader(rd.tvb, rt, rd.off, start + rl, "room entry")
            local room = sub:lstr(nil, 1, f["room"], 64, 1)
            rt:append_text(": " .. room)
            sub:u64(f["room_epoch"]); sub:u64(f["event_seq"]); sub:u32(f["rooms.hidden_watchers"])
            local pc = sub:u16(f["participant_count"]); local tc = sub:u16(f["track_count"])
            for _ = 1, pc do participant_record(sub, rt, pinfo) end
            for _ = 1, tc do track_record(sub, rt, pinfo) end
            rd.off = start + rl
        end
        info = string.format("ROOM_LIST %d rooms", n)
    elseif ty == 0x10 then -- VIDEO_FRAME (v1)
        local codec, cit = rd:u8(f["frame.codec"])
        rd:u8(f["frame.flags"])
        local w, wit = rd:u16(f["frame.width"])
        local h, hit = rd:u16(f["frame.height"])
        rd:skip(2)
        local seq = rd:u64(f["frame.sequence"])
        rd:i64(f["frame.capture_us"])
        if codec ~= 1 and codec ~= 2 and codec ~= 3 then bad(cit, pinfo, "unknown codec") end
        if w < 1 or w > 8192 then bad(wit, pinfo, "width outside 1..8192") end
        if h < 1 or h > 8192 then bad(hit, pinfo, "height outside 1..8192") end
        local n = rd:left()
        if n > 0 then
            local dit = t:add(f["msg.data"], rd.tvb(rd.off, n))
            if codec == 2 and n ~= w * h * 3 then bad(dit, pinfo, "raw BGR24 data is not width x height x 3 bytes") end
            rd.off = rd.limit
        end
        info = string.format("v1 VIDEO_FRAME %s %dx%d seq %s", vname(codec_short, codec), w, h, tostring(seq))
    elseif ty == 0x11 then -- SIGNAL
        local s, sit = rd:u8(f["state"])
        if s > 1 then bad(sit, pinfo, "state must be 0 or 1") end
        rd:skip(1)
        local txt, tr = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
        if tr then check_text(t, txt, pinfo) end
        info = string.format("SIGNAL %s", vname(states, s))
        if txt ~= "" then info = info .. string.format(" %q", short_text(txt)) end
    elseif ty == 0x12 then -- FRAME
        local pid = rd:u32(f["frame.participant_id"])
        local tid, tit = rd:u16(f["frame.track_id"])
        local kind, kit = rd:u8(f["frame.kind"])
        local codec, cit = rd:u8(f["frame.codec"])
        local flr = rd:range(1, "frame_flags")
        local fl = flr:uint()
        local ft = t:add(f["frame.flags"], flr)
        ft:add(f["frame.keyframe"], flr); ft:add(f["frame.droppable"], flr); ft:add(f["frame.discontinuity"], flr)
        local layer = rd:u8(f["frame.layer"])
        local ext, eit = rd:u16(f["frame.ext_len"])
        local a, b, ait, bit
        if kind == 2 then
            a, ait = rd:u16(f["frame.samples"]); b = rd:u16(f["track.b"])
        else
            a, ait = rd:u16(f["frame.width"]); b, bit = rd:u16(f["frame.height"])
        end
        local seq = rd:u64(f["frame.sequence"])
        rd:i64(f["frame.capture_us"])
        if tid == 0 or tid == 0xFFFF then bad(tit, pinfo, "track_id 0 / 0xFFFF is invalid") end
        if kind ~= 1 and kind ~= 2 then bad(kit, pinfo, "kind must be 1 (video) or 2 (audio)") end
        if codec == 0 or (kind == 1 and codec >= 64) or (kind == 2 and codec < 64) then
            bad(cit, pinfo, "codec does not match the kind")
        end
        local key = fl % 2 == 1
        if (codec == 1 or codec == 2 or codec == 64 or codec == 65) and not key then
            bad(ft, pinfo, "every frame of this codec must have the keyframe flag")
        end
        if ext > 1024 then bad(eit, pinfo, "ext_len above 1024") end
        if kind == 1 then
            if a < 1 or a > 8192 then bad(ait, pinfo, "width outside 1..8192") end
            if b < 1 or b > 8192 then bad(bit, pinfo, "height outside 1..8192") end
        elseif kind == 2 and (a < 1 or a > 5760) then bad(ait, pinfo, "samples outside 1..5760") end
        if ext > 0 then rd:add(f["frame.extensions"], ext, "extensions") end
        local n = rd:left()
        if n > 0 then
            local dit = t:add(f["msg.data"], rd.tvb(rd.off, n))
            if codec == 2 and n ~= a * b * 3 then bad(dit, pinfo, "raw BGR24 data is not width x height x 3 bytes") end
            if kind == 2 and n > 16 * KiB then bad(dit, pinfo, "audio data above 16 KiB") end
            rd.off = rd.limit
        end
        if kind == 2 then
            info = string.format("v2 FRAME p%d t%d %s%s %d samples seq %s", pid, tid, vname(codec_short, codec),
                key and " key" or "", a, tostring(seq))
        else
            info = string.format("v2 FRAME p%d t%d%s %dx%d seq %s", pid, tid, key and " key" or "", a, b,
                tostring(seq))
            if codec ~= 1 then info = info .. " " .. vname(codec_short, codec) end
        end
    elseif ty == 0x13 then -- KEYFRAME_REQUEST
        local pid = rd:u32(f["participant_id"])
        local tid = rd:u16(f["track.id"])
        rd:u8(f["keyframe.reason"]); rd:skip(1)
        info = string.format("KEYFRAME_REQUEST p%d t%d", pid, tid)
    elseif ty == 0x14 then -- SOURCE_STATE
        local tid = rd:u16(f["track.id"])
        local s = rd:u8(f["state"]); rd:skip(1)
        local txt, tr = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
        if tr then check_text(t, txt, pinfo) end
        info = string.format("SOURCE_STATE t%d %s", tid, vname(states, s))
    elseif ty == 0x20 then -- PING
        local id = rd:u32(f["ping.id"]); rd:skip(4); rd:i64(f["ping.sent_us"])
        info = string.format("PING %d", id)
    elseif ty == 0x21 then -- PONG
        local id = rd:u32(f["ping.id"]); rd:skip(4); rd:i64(f["ping.sent_us"]); rd:i64(f["pong.peer_time_us"])
        info = string.format("PONG %d", id)
    elseif ty == 0x30 or ty == 0x31 then -- ERROR, GOODBYE
        local code = rd:u16(f["code"])
        local txt, tr = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
        if tr then check_text(t, txt, pinfo) end
        info = string.format("%s %s", name, vname(error_codes, code))
        if txt ~= "" then info = info .. string.format(" %q", short_text(txt)) end
    elseif ty == 0x61 then -- UDP_KEY
        local sid = rd:u64(f["session_id"])
        rd:u16(f["udp_key.port"]); rd:skip(2)
        rd:add(f["udp_key.client_key"], 32); rd:add(f["udp_key.hub_key"], 32)
        rd:u32(f["udp_key.client_salt"]); rd:u32(f["udp_key.hub_salt"])
        info = string.format("UDP_KEY session %s", sid:tohex())
    elseif ty == 0x40 then -- ROOM_SNAPSHOT
        local seq = rd:u64(f["event_seq"])
        local chunk = rd:u16(f["snapshot.chunk"])
        local cfr = rd:range(1, "chunk_flags")
        local cft = t:add(f["snapshot.flags"], cfr); cft:add(f["snapshot.last"], cfr)
        rd:skip(1)
        local pc = rd:u16(f["participant_count"]); local tc = rd:u16(f["track_count"])
        for _ = 1, pc do participant_record(rd, t, pinfo) end
        for _ = 1, tc do track_record(rd, t, pinfo) end
        info = string.format("ROOM_SNAPSHOT seq %s chunk %d: %d participants, %d tracks", tostring(seq), chunk, pc, tc)
    elseif ty == 0x41 then
        local seq = rd:u64(f["event_seq"])
        participant_record(rd, t, pinfo)
        info = string.format("PARTICIPANT_JOINED seq %s", tostring(seq))
    elseif ty == 0x42 then
        local seq = rd:u64(f["event_seq"])
        local pid = rd:u32(f["participant_id"])
        local r = rd:u16(f["reason"]); rd:skip(2)
        info = string.format("PARTICIPANT_LEFT seq %s p%d %s", tostring(seq), pid, vname(error_codes, r))
    elseif ty == 0x43 then
        local seq = rd:u64(f["event_seq"])
        track_record(rd, t, pinfo)
        info = string.format("TRACK_PUBLISHED seq %s", tostring(seq))
    elseif ty == 0x44 then
        local seq = rd:u64(f["event_seq"])
        local pid = rd:u32(f["participant_id"])
        local tid = rd:u16(f["track.id"])
        local r = rd:u16(f["reason"])
        info = string.format("TRACK_UNPUBLISHED seq %s p%d t%d %s", tostring(seq), pid, tid, vname(error_codes, r))
    elseif ty == 0x45 then
        local seq = rd:u64(f["event_seq"])
        local pid = rd:u32(f["participant_id"])
        local tid = rd:u16(f["track.id"])
        local s = rd:u8(f["state"]); rd:skip(1)
        local txt = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
        info = string.format("TRACK_STATE seq %s p%d t%d %s", tostring(seq), pid, tid, vname(states, s))
    elseif ty == 0x50 then -- PUBLISH
        local rid = rd:u32(f["request_id"])
        local dt = t:add(rd.tvb(rd.off, math.max(0, rd:left())), "Track description")
        local tid, kind, codec, a, b = track_description(rd, dt, pinfo)
        info = string.format("PUBLISH req %d t%d %s %s", rid, tid, vname(kinds, kind), vname(codec_short, codec))
        if kind == 1 then info = info .. string.format(" %dx%d", a, b) end
    elseif ty == 0x51 then
        local rid = rd:u32(f["request_id"])
        local tid = rd:u16(f["track.id"]); rd:skip(2)
        info = string.format("UNPUBLISH req %d t%d", rid, tid)
    elseif ty == 0x52 or ty == 0x53 then
        local rid = rd:u32(f["request_id"])
        local pid = rd:u32(f["participant_id"])
        local tid = rd:u16(f["track.id"])
        rd:u8(f["subscribe.kinds"]); rd:u8(f["subscribe.max_layer"])
        info = string.format("%s req %d %s %s", name, rid, pid == 0xFFFFFFFF and "any" or ("p" .. pid),
            tid == 0xFFFF and "all tracks" or ("t" .. tid))
    elseif ty == 0x54 then -- CHAT_SEND
        rd:u32(f["request_id"])
        local mid, mit = rd:u64(f["chat.client_msg_id"])
        if mid == UInt64(0) then bad(mit, pinfo, "client_msg_id 0") end
        local tlr = rd:range(4, "text_len")
        local tl = tlr:uint()
        local tlit = t:add(f["chat.text_len"], tlr)
        if tl ~= rd:left() then bad(tlit, pinfo, "text_len does not equal the rest of the payload") end
        if tl == 0 then bad(tlit, pinfo, "empty chat text") end
        local txt = ""
        if tl > 0 then
            local r = rd:range(math.min(tl, rd:left()), "text")
            txt = r:string(ENC_UTF_8)
            local it = t:add(f["chat.text"], r, txt)
            check_text(it, txt, pinfo, true)
        end
        info = string.format("CHAT_SEND %q", short_text(txt))
    elseif ty == 0x87 then -- CHAT_HISTORY
        rd:u64(f["chat.store"])
        local chunk = rd:u16(f["chat.chunk"])
        rd:u8(f["chat.flags"]); rd:skip(1)
        local n = rd:u16(f["chat.count"])
        for _ = 1, n do chat_record(rd, t, pinfo) end
        info = string.format("CHAT_HISTORY chunk %d: %d messages", chunk, n)
    elseif ty == 0xC6 then -- CHAT_MESSAGE
        local seq = rd:u64(f["event_seq"])
        local txt = chat_record(rd, t, pinfo)
        info = string.format("CHAT_MESSAGE seq %s %q", tostring(seq), short_text(txt))
    elseif ty >= 0xC0 and ty <= 0xCF then -- unknown optional room event
        local seq = rd:u64(f["event_seq"])
        info = string.format("optional event 0x%02X seq %s (skipped)", ty, tostring(seq))
    elseif ty >= 0x80 then
        info = string.format("optional type 0x%02X (skipped)", ty)
    else
        info = string.format("unknown type 0x%02X", ty)
    end
    -- appended fields (v2) / unread tail
    if rd:left() > 0 then
        local it = t:add(f["msg.payload"], rd.tvb(rd.off, rd:left()))
        it:set_text(string.format("Appended / unknown bytes (%d)", rd:left()))
        if ver == 1 and ty ~= 0x10 then bad(it, pinfo, "v1 payload longer than its layout") end
    end
    return info
end

-- fixed-size v1/v2 messages whose payload must be exactly this long (v1 keeps exact layouts)
local exact_v1 = { [0x02] = 20, [0x20] = 16, [0x21] = 24, [0x61] = 84 }

-- Dissects one message (header + payload) at tvb[off, off+8+len). Returns the info text.
local function stream_message(tvb, off, pinfo, tree, st)
    local ty = tvb(off, 1):uint()
    local len = tvb(off + 4, 4):uint()
    local ver = st.version or 1
    local total = 8 + len
    local avail = tvb:len() - off
    local t = tree:add(proto, tvb(off, math.min(total, avail)))
    t:set_text(string.format("SocketCam v%d %s, %d bytes", ver, vname(msg_types, ty), len))
    local tit = t:add(f["msg.type"], tvb(off, 1))
    if ty >= 0x80 then tit:add(f["msg.optional"], tvb(off, 1)) end
    t:add(f["msg.flags"], tvb(off + 1, 1))
    t:add(f["msg.reserved"], tvb(off + 2, 2))
    local lit = t:add(f["msg.length"], tvb(off + 4, 4))
    local vit = t:add(f["version"], ver); vit:set_generated()

    local caps = ver == 2 and v2_caps or v1_caps
    local cap = caps[ty]
    local known = cap ~= nil
    local mfb = st.max_frame_bytes or 16 * MiB
    if cap and cap < 0 then cap = -cap + mfb + (ty == 0x12 and 1024 or 0) end
    if not known and ver == 2 and v1_only[ty] then
        bad(tit, pinfo, string.format("%s is not a version 2 message", vname(msg_types, ty)))
        cap = v1_caps[ty] < 0 and (-v1_caps[ty] + mfb) or v1_caps[ty]
    elseif not known then
        if ver == 2 and ty >= 0x80 then
            cap = 64 * KiB
        else
            bad(tit, pinfo, string.format("unknown %stype 0x%02X", ver == 2 and "required " or "", ty))
            cap = 64 * KiB
        end
    elseif ver == 2 and v1_only[ty] then
        bad(tit, pinfo, string.format("%s is not a version 2 message", vname(msg_types, ty)))
    end
    if ty == 0 or ty == 0x80 then bad(tit, pinfo, "type 0 / 0x80 is never assigned") end
    if len > cap then
        local tn = msg_types[ty] or string.format("type 0x%02X", ty)
        bad(lit, pinfo, string.format("length %d above the cap %d for %s", len, cap, tn))
        return string.format("%s (length %d above cap)", tn, len), true
    end
    if ver == 1 and exact_v1[ty] and len ~= exact_v1[ty] then
        bad(lit, pinfo, string.format("%s payload must be %d bytes", vname(msg_types, ty), exact_v1[ty]))
    end
    if ver == 2 and ty == 0x02 and len < 64 then bad(lit, pinfo, "v2 WELCOME payload is 64 bytes or more") end
    if ty == 0x10 and len < 24 then bad(lit, pinfo, "VIDEO_FRAME shorter than its 24-byte header") end
    if ty == 0x12 and len < 32 then bad(lit, pinfo, "FRAME shorter than its 32-byte header") end

    local rd = reader(tvb, t, off + 8, off + math.min(total, avail), vname(msg_types, ty))
    rd.snapped = avail < total and tvb:len() < tvb:reported_len()
    local info
    local ok, err = pcall(function() info = message_body(ty, ver, rd, pinfo, t, lit, st) end)
    if not ok then
        if err ~= TRUNC then error(err) end
        info = vname(msg_types, ty) .. " [truncated]"
    end
    if ty == 0x30 or ty == 0x31 then st.ended = true end
    t:append_text(": " .. info)
    return info, false
end

---------------------------------------------------------------------------------------------------
-- TCP: per-stream state
---------------------------------------------------------------------------------------------------

-- One state per TCP connection, keyed by its two endpoints (tcp.stream is not available to a Lua
-- dissector in a pass without a tree, e.g. tshark -2's first pass, so it cannot be the key). A
-- connection that ended (GOODBYE, ERROR, TCP_RESULT) and whose ports are reused by a new one that
-- starts with a preface gets a fresh state. Each frame remembers its state for later passes.
local streams = {}
local frame_st = {}

local function conn_key(pinfo)
    local a = tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port)
    local b = tostring(pinfo.dst) .. ":" .. tostring(pinfo.dst_port)
    if a < b then return a .. "|" .. b end
    return b .. "|" .. a
end

local kind_of -- forward

-- Which connections were seen from their SYN: the TCP tap runs after each packet's dissection, so a
-- connection's SYN has been seen before its first data is dissected. A connection whose start the
-- capture missed is not flagged for lacking a preface (its first bytes may be the middle of a message).
local syn_seen = {}
local tcp_tap = Listener.new("tcp", nil, false)
function tcp_tap.packet(pinfo, tvb, ti)
    -- (pinfo.visited is already true in a tap; frame numbers tell a new SYN from a later pass's)
    if type(ti) ~= "table" or not ti.th_flags then return end
    local fl = ti.th_flags
    if fl % 4 >= 2 and math.floor(fl / 16) % 2 == 0 then -- SYN without ACK: a new connection
        local key = conn_key(pinfo)
        if pinfo.number > (syn_seen[key] or 0) then
            syn_seen[key] = pinfo.number
            streams[key] = nil -- a reused port pair starts afresh
        end
    end
end
function tcp_tap.reset() syn_seen = {} end

local function stream_state(pinfo, tvb)
    if pinfo.visited and frame_st[pinfo.number] then return frame_st[pinfo.number] end
    local key = conn_key(pinfo)
    local st = streams[key]
    if st and st.ended and tvb and st.last_frame ~= pinfo.number and st.kind and kind_of(tvb) == st.kind then
        st = nil
    end
    if not st then
        st = { dirs = {}, key = key }
        streams[key] = st
    end
    st.last_frame = pinfo.number
    frame_st[pinfo.number] = st
    return st
end

local function dir_state(st, pinfo)
    local k = tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port)
    local d = st.dirs[k]
    if not d then d = { first = pinfo.number }; st.dirs[k] = d end
    return d
end

local function is_seed_start(tvb, off)
    if tvb:len() - off < 10 then return false end
    local p = tvb(off + 8, 1):uint()
    local v = tvb(off + 9, 1):uint()
    if p ~= 0x80 or v < 2 or v > 5 then return false end
    local hi = tvb(off + 4, 4):le_uint()
    return hi == 0 and tvb(off, 4):le_uint() >= 2
end

kind_of = function(tvb)
    local n = tvb:len()
    if n >= 4 and tvb(0, 4):string() == "SCAM" then return "stream" end
    if n >= 6 and tvb(0, 4):string() == "SCIM" then -- any version: a wrong one is flagged
        local ty = tvb(5, 1):uint()
        if ty == 0x10 or ty == 0x11 then return "image" end
    end
    if is_seed_start(tvb, 0) then return "seed" end
    return nil
end

local function set_proto_col(pinfo)
    pinfo.cols.protocol = "SocketCam"
end

-- the preface (8 bytes)
local function preface(tvb, off, pinfo, tree, st)
    local t = tree:add(proto, tvb(off, 8))
    local mr = tvb(off, 4)
    local mit = t:add(f["magic"], mr, mr:string())
    local v = tvb(off + 4, 2):uint()
    local mv = tvb(off + 6, 2):uint()
    local vit = t:add(f["preface.version"], tvb(off + 4, 2))
    t:add(f["preface.max_version"], tvb(off + 6, 2))
    if mr:string() ~= "SCAM" then bad(mit, pinfo, "bad magic: not SCAM") end
    if v ~= 1 and v ~= 2 then
        bad(vit, pinfo, string.format("unsupported version %d", v))
    else
        if st.version == nil or v > st.version then st.version = v end
    end
    local sv = t:add(f["version"], st.version or v); sv:set_generated()
    t:set_text(string.format("SocketCam preface: %s version %d, max_version %d", mr:string(), v, mv))
    return string.format("preface v%d max %d", v, mv)
end

local function dissect_stream(tvb, pinfo, tree, st, d)
    local off = 0
    local n = tvb:len()
    local infos = {}
    -- a direction that already went wrong (length above cap, bad magic): the rest is not framed
    -- a direction whose first bytes are not a preface: a bad magic if the connection's SYN was seen,
    -- else the capture started in the middle of it. (Looked up each time: tshark -2 runs taps only in
    -- its second pass.)
    if pinfo.number == d.first and (n < 4 or tvb(0, 4):string() ~= "SCAM") then d.no_preface = true end
    if d.no_preface and not syn_seen[st.key] then
        tree:add(proto, tvb()):set_text("SocketCam: data of a connection whose start was not captured (not dissected)")
        pinfo.cols.info = "SocketCam: data (connection start not captured)"
        return n
    end
    if d.snapped and pinfo.number > d.snapped then
        tree:add(proto, tvb()):set_text("SocketCam: data after a segment the capture cut short (not dissected)")
        pinfo.cols.info = "SocketCam: data after a cut-short segment"
        return n
    end
    if d.dead and pinfo.number > d.dead then
        tree:add(proto, tvb()):set_text("SocketCam: data after a framing error (not dissected)")
        pinfo.cols.info = "SocketCam: data after a framing error"
        return n
    end
    while off < n do
        local first = (pinfo.number == d.first and off == 0)
        local left = n - off
        local is_pre = first or (left >= 4 and tvb(off, 4):string() == "SCAM" and
            (left < 6 or tvb(off + 4, 2):uint() < 0x100))
        if is_pre then
            if left < 8 then
                pinfo.desegment_offset = off; pinfo.desegment_len = 8 - left
                break
            end
            infos[#infos + 1] = preface(tvb, off, pinfo, tree, st)
            off = off + 8
            if tvb(off - 8, 4):string() ~= "SCAM" then
                d.dead = pinfo.number
                if off < n then tree:add(proto, tvb(off)):set_text("SocketCam: data after a bad preface (not dissected)") end
                off = n
                break
            end
        else
            if left < 8 then
                pinfo.desegment_offset = off; pinfo.desegment_len = 8 - left
                break
            end
            local len = tvb(off + 4, 4):uint()
            local need = 8 + len
            -- check the cap before asking for more data: never reassemble a hostile length
            local ty = tvb(off, 1):uint()
            local caps = (st.version == 2) and v2_caps or v1_caps
            local cap = caps[ty] or (st.version == 2 and v1_only[ty] and v1_caps[ty]) or nil
            local mfb = st.max_frame_bytes or 16 * MiB
            if cap and cap < 0 then cap = -cap + mfb + (ty == 0x12 and 1024 or 0) end
            if cap == nil then cap = 64 * KiB end
            if len > cap then
                local info = stream_message(tvb, off, pinfo, tree, st)
                infos[#infos + 1] = info
                if off + 8 < n then tree:add(proto, tvb(off + 8)):set_text("SocketCam: data after a length above the cap (not dissected)") end
                d.dead = pinfo.number
                off = n
                break
            end
            if left < need and tvb:len() < tvb:reported_len() then
                -- the capture kept only part of this segment (snap length): message boundaries are lost
                infos[#infos + 1] = stream_message(tvb, off, pinfo, tree, st)
                tree:add_proto_expert_info(ef_note, "packet size limited during capture: the rest of this direction is not dissected")
                d.snapped = pinfo.number
                break
            end
            if left < need then
                pinfo.desegment_offset = off; pinfo.desegment_len = need - left
                break
            end
            infos[#infos + 1] = stream_message(tvb, off, pinfo, tree, st)
            off = off + need
        end
    end
    if #infos > 0 then
        local s = table.concat(infos, ", ")
        if #infos > 1 then s = string.format("[%d] %s", #infos, s) end
        pinfo.cols.info = s
    else
        pinfo.cols.info = string.format("SocketCam: %d bytes of a message continued in a later segment", n)
    end
    -- accepted: TCP reads desegment_offset/desegment_len (returning 0 would mean "not mine")
    return n
end

-- SCIM over TCP (§2.1)
local function dissect_image_tcp(tvb, pinfo, tree, st, d)
    local n = tvb:len()
    if pinfo.number == d.first and (n < 4 or tvb(0, 4):string() ~= "SCIM") then d.no_preface = true end
    if d.no_preface and not syn_seen[st.key] then
        tree:add(proto, tvb()):set_text("SocketCam image transfer: data of a connection whose start was not captured")
        pinfo.cols.info = "SCIM: data (connection start not captured)"
        return n
    end
    if pinfo.number == d.first then
        if n < 6 or tvb(0, 4):string() ~= "SCIM" then
            local t = tree:add(proto, tvb())
            t:set_text("SocketCam image transfer: unknown data")
            bad(t, pinfo, "not a SCIM header")
            pinfo.cols.info = "SCIM: bad magic"
            return n
        end
        local ty = tvb(5, 1):uint()
        local need = (ty == 0x10) and 24 or 16
        if n < need then pinfo.desegment_offset = 0; pinfo.desegment_len = need - n; return n end
        local t = tree:add(proto, tvb(0, need))
        t:add(f["image.magic"], tvb(0, 4), tvb(0, 4):string())
        local vit = t:add(f["image.version"], tvb(4, 1))
        local tit = t:add(f["image.type"], tvb(5, 1))
        if tvb(4, 1):uint() ~= 1 then bad(vit, pinfo, "SCIM version must be 1") end
        local info
        if ty == 0x10 then
            t:add(f["image.length"], tvb(8, 8))
            t:add(f["image.crc32"], tvb(16, 4))
            d.file_len = tvb(8, 8):uint64()
            info = string.format("SCIM TCP_OFFER %s bytes, crc32 %08x", tostring(tvb(8, 8):uint64()), tvb(16, 4):uint())
            st.image_sender = true
        elseif ty == 0x11 then
            local code = tvb(6, 2):uint()
            t:add(f["image.code"], tvb(6, 2))
            t:add(f["image.value"], tvb(8, 8))
            info = string.format("SCIM TCP_RESULT %s", vname(image_codes, code))
            st.ended = true
        else
            bad(tit, pinfo, "not a TCP image message")
            info = string.format("SCIM type 0x%02x", ty)
        end
        t:set_text("SocketCam image transfer, " .. info)
        if n > need then
            if ty == 0x10 then
                tree:add(f["image.file_data"], tvb(need))
            else
                bad(tree:add(f["unexpected"], tvb(need)), pinfo, "bytes after TCP_RESULT")
            end
        end
        pinfo.cols.info = info
        return n
    end
    if d.file_len then
        tree:add(proto, tvb()):set_text(string.format("SocketCam image transfer: file data, %d bytes", n))
        tree:add(f["image.file_data"], tvb())
        pinfo.cols.info = string.format("SCIM file data, %d bytes", n)
    else
        local it = tree:add(f["unexpected"], tvb())
        pinfo.cols.info = "SCIM: unexpected data"
    end
    return n
end

-- seed format (§3): u64 LE length + pickle
local function pickle_shape(tvb, off, len)
    -- look for the BUILD state tuple's shape: BININT* values in a small tuple, after "(\x01" marker.
    -- Best effort: scan the first 200 bytes for K (BININT1) / M (BININT2) / J (BININT) runs of 2-3 followed
    -- by a TUPLE2/TUPLE3 opcode (0x86/0x87).
    local lim = math.min(len, 300)
    local bytes = tvb(off, lim):bytes()
    local i = 0
    while i < lim do
        local vals = {}
        local j = i
        while j < lim and #vals < 3 do
            local op = bytes:get_index(j)
            if op == 0x4B and j + 1 < lim then vals[#vals + 1] = bytes:get_index(j + 1); j = j + 2
            elseif op == 0x4D and j + 2 < lim then vals[#vals + 1] = bytes:get_index(j + 1) + 256 * bytes:get_index(j + 2); j = j + 3
            else break end
        end
        if #vals >= 2 and j < lim then
            local op = bytes:get_index(j)
            if (op == 0x86 and #vals == 2) or (op == 0x87 and #vals == 3) then
                local s = {}
                for k = 1, #vals do s[k] = tostring(vals[k]) end
                return "(" .. table.concat(s, ", ") .. ")"
            end
        end
        i = i + 1
    end
    return nil
end

local function dissect_seed(tvb, pinfo, tree, st, d)
    local n = tvb:len()
    local off = 0
    local infos = {}
    if not st.seed_server then st.seed_server = (pinfo.number == d.first and is_seed_start(tvb, 0)) and d or nil end
    if st.seed_server ~= d then
        tree:add(proto, tvb()):set_text("SocketCam seed format: data from the client (the format has none)")
        tree:add(f["unexpected"], tvb())
        pinfo.cols.info = "seed: client data"
        return n
    end
    if d.dead and pinfo.number > d.dead then
        tree:add(proto, tvb()):set_text("SocketCam seed: data after a framing error (not dissected)")
        return n
    end
    local mfb = st.max_frame_bytes or 16 * MiB
    local cap = 2 * 256 * MiB + 64 * KiB -- the largest --max-frame-bytes: the hub's own cap is not on the wire
    while off < n do
        local left = n - off
        if left < 8 then pinfo.desegment_offset = off; pinfo.desegment_len = 8 - left; break end
        local lo = tvb(off, 4):le_uint()
        local hi = tvb(off + 4, 4):le_uint()
        if hi ~= 0 or lo > cap then
            local t = tree:add(proto, tvb(off, 8))
            t:set_text("SocketCam seed frame")
            local lit = t:add_le(f["seed.length"], tvb(off, 8))
            bad(lit, pinfo, "pickle length above the cap")
            infos[#infos + 1] = "seed frame: length above cap"
            d.dead = pinfo.number
            break
        end
        local need = 8 + lo
        if left < need then pinfo.desegment_offset = off; pinfo.desegment_len = need - left; break end
        local t = tree:add(proto, tvb(off, need))
        t:add_le(f["seed.length"], tvb(off, 8))
        local info = string.format("seed frame %d bytes", lo)
        if lo >= 2 then
            local pr = tvb(off + 8, 1):uint()
            local pv = tvb(off + 9, 1):uint()
            local pit = t:add(f["seed.pickle_protocol"], tvb(off + 9, 1))
            if pr ~= 0x80 or pv < 2 or pv > 5 then bad(pit, pinfo, "pickle does not start with PROTO 2..5") end
            local shape = pickle_shape(tvb, off + 8, lo)
            if shape then
                local sit = t:add(f["seed.shape"], shape); sit:set_generated()
                info = info .. " shape " .. shape
            end
            if tvb(off + 8 + lo - 1, 1):uint() ~= 0x2E then
                bad(t, pinfo, "pickle does not end with STOP")
            end
        else
            bad(t, pinfo, "pickle too short")
        end
        if lo > 0 then t:add(f["seed.pickle"], tvb(off + 8, lo)) end
        t:set_text("SocketCam seed frame: " .. info)
        infos[#infos + 1] = info
        off = off + need
    end
    if #infos > 0 then pinfo.cols.info = table.concat(infos, ", ") end
    return n
end

local function dissect_tcp(tvb, pinfo, tree)
    local st = stream_state(pinfo, tvb)
    local d = dir_state(st, pinfo)
    if not st.kind then st.kind = kind_of(tvb) or "stream" end
    set_proto_col(pinfo)
    if st.kind == "image" then return dissect_image_tcp(tvb, pinfo, tree, st, d) end
    if st.kind == "seed" then return dissect_seed(tvb, pinfo, tree, st, d) end
    return dissect_stream(tvb, pinfo, tree, st, d)
end

---------------------------------------------------------------------------------------------------
-- UDP: SCUV (§2.0)
---------------------------------------------------------------------------------------------------

local scuv_exact = { [0x02] = 40, [0x12] = 40, [0x13] = 24, [0x17] = 20, [0x20] = 32, [0x21] = 40 }

local function dissect_scuv(tvb, pinfo, tree)
    local n = tvb:reported_len() -- sizes are checked against what was sent
    local cap_n = tvb:len()       -- and fields read from what was captured
    local t = tree:add(proto, tvb())
    set_proto_col(pinfo)
    if n < 16 then
        t:set_text("SocketCam UDP datagram (truncated)")
        bad(t, pinfo, string.format("datagram of %d bytes is shorter than the 16-byte prefix", n))
        if cap_n >= 6 then t:add(f["udp.type"], tvb(5, 1)) end
        pinfo.cols.info = "SCUV truncated"
        return n
    end
    if cap_n < 16 then
        t:add_proto_expert_info(ef_note, "packet size limited during capture")
        return n
    end
    local mit = t:add(f["udp.magic"], tvb(0, 4), tvb(0, 4):string())
    if tvb(0, 4):string() ~= "SCUV" then bad(mit, pinfo, "bad magic: not SCUV or SCIM") end
    local vit = t:add(f["udp.version"], tvb(4, 1))
    local ty = tvb(5, 1):uint()
    local tit = t:add(f["udp.type"], tvb(5, 1))
    local rit = t:add(f["udp.reserved"], tvb(6, 2))
    local sealed = tvb(6, 1):uint() % 2 == 1
    rit:add(f["udp.sealed"], tvb(6, 2))
    local sid = tvb(8, 8):uint64()
    t:add(f["udp.session_id"], tvb(8, 8))
    if tvb(4, 1):uint() ~= 1 then bad(vit, pinfo, "SCUV version must be 1") end
    local tname = udp_types[ty]
    if not tname then bad(tit, pinfo, string.format("unknown datagram type 0x%02X", ty)) end
    tname = tname or string.format("0x%02X", ty)
    local info = "SCUV " .. tname
    t:set_text(string.format("SocketCam UDP %s%s, %d bytes", tname, sealed and " (sealed)" or "", n))
    if n > 1224 or (n > 1200 and ty ~= 0x01) then bad(t, pinfo, string.format("datagram of %d bytes above 1200", n)) end

    if sealed then
        if cap_n < n then
            if cap_n > 16 then t:add(f["udp.encrypted"], tvb(16)) end
        elseif n < 16 + 8 + 16 then
            bad(t, pinfo, "sealed datagram too short for counter and tag")
        else
            local plain = n - 24
            local ex = scuv_exact[ty]
            if ex and plain ~= ex then
                bad(t, pinfo, string.format("sealed %s is %d bytes, expected %d", tname, n, ex + 24))
            end
            t:add(f["udp.counter"], tvb(16, 8))
            if n > 40 then t:add(f["udp.encrypted"], tvb(24, n - 40)) end
            t:add(f["udp.tag"], tvb(n - 16, 16))
        end
        pinfo.cols.info = string.format("SCUV %s (sealed) session %s, %d bytes", tname, sid:tohex(), n)
        return n
    end

    local rd = reader(tvb, t, 16, cap_n, "SCUV " .. tname)
    rd.snapped = cap_n < n
    local function size_is(expect)
        if n ~= expect then
            bad(t, pinfo, string.format("%s datagram is %d bytes, its layout says %d", tname, n, expect))
        end
    end
    local ok, err = pcall(function()
        if ty == 0x01 then -- HELLO
            rd:u64(f["udp.nonce"])
            local fl = rd:u8(f["udp.hello_flags"])
            local role, roit = rd:u8(f["hello.role"])
            if role ~= 1 and role ~= 2 then bad(roit, pinfo, "role must be 1 or 2") end
            local room = rd:lstr(nil, 1, f["room"], 64, 1)
            rd:lstr(nil, 1, f["token"], 255, 0)
            rd:lstr(nil, 1, f["agent"], 64, 0)
            if rd:left() > 0 then rd:add(f["udp.padding"], rd:left(), "padding") end
            if n < 256 then bad(t, pinfo, "HELLO shorter than 256 bytes") end
            info = string.format("SCUV HELLO %s room %s", vname(roles, role), room)
        elseif ty == 0x02 then
            size_is(40)
            rd:u64(f["udp.nonce"]); rd:i64(f["server_time_us"]); rd:u32(f["max_frame_bytes"])
            rd:u16(f["udp.fragment_payload"]); rd:u16(f["udp.max_version"])
            info = string.format("SCUV WELCOME session %s", sid:tohex())
        elseif ty == 0x03 then
            rd:u64(f["udp.nonce"])
            local code = rd:u16(f["code"])
            local txt = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
            size_is(28 + #txt)
            info = string.format("SCUV REFUSE %s %q", vname(error_codes, code), short_text(txt))
        elseif ty == 0x10 then -- FRAGMENT
            local fid = rd:u32(f["udp.frame_id"])
            local idx, iit = rd:u16(f["udp.index"])
            local dc, dcit = rd:u16(f["udp.data_count"])
            local g = rd:u8(f["udp.group"])
            local codec = rd:u8(f["frame.codec"])
            local w, wit = rd:u16(f["frame.width"])
            local h, hit = rd:u16(f["frame.height"])
            local pl, plit = rd:u16(f["udp.payload_len"])
            local tl = rd:u32(f["udp.total_length"])
            local seq = rd:u64(f["frame.sequence"])
            rd:i64(f["frame.capture_us"])
            size_is(52 + pl)
            if pl > 0 and rd:left() > 0 then rd:add(f["udp.payload"], math.min(pl, rd:left()), "payload") end
            local pc = (g == 0) and 0 or math.ceil(dc / g)
            if dc == 0 then bad(dcit, pinfo, "data_count 0") end
            if idx >= dc + pc then bad(iit, pinfo, "index beyond data and parity fragments") end
            if w < 1 or w > 8192 then bad(wit, pinfo, "width outside 1..8192") end
            if h < 1 or h > 8192 then bad(hit, pinfo, "height outside 1..8192") end
            if pl > 1124 then bad(plit, pinfo, "payload_len above 1124") end
            local expect_dc = math.max(1, math.ceil(tl / 1124))
            if dc ~= expect_dc then bad(dcit, pinfo, "data_count does not match total_length") end
            if idx < dc and pl ~= math.min(1124, tl - idx * 1124) then
                bad(plit, pinfo, "payload_len does not match index and total_length")
            end
            if codec == 2 and tl ~= w * h * 3 then bad(t, pinfo, "raw total_length is not width x height x 3") end
            info = string.format("SCUV FRAGMENT frame %d %s %d/%d %s %dx%d seq %s", fid,
                idx < dc and "data" or "parity", idx, dc, vname(codec_short, codec), w, h, tostring(seq))
        elseif ty == 0x11 then -- NACK
            local fid = rd:u32(f["udp.frame_id"])
            local c, cit = rd:u16(f["udp.count"])
            rd:skip(2)
            size_is(24 + 2 * c)
            if c < 1 or c > 574 then bad(cit, pinfo, "count outside 1..574") end
            local idx = {}
            for i = 1, math.min(c, math.floor(rd:left() / 2)) do
                idx[#idx + 1] = rd:u16(f["udp.nack_index"])
            end
            info = string.format("SCUV NACK frame %d: %s", fid, table.concat(idx, ",", 1, math.min(#idx, 12)))
            if #idx > 12 then info = info .. ",..." end
        elseif ty == 0x12 then -- REPORT
            size_is(40)
            local e = rd:u32(f["udp.fragments_expected"]); local l = rd:u32(f["udp.fragments_lost"])
            local fc = rd:u32(f["udp.frames_completed"]); local fl = rd:u32(f["udp.frames_lost"])
            local rtt = rd:u32(f["ping.rtt_us"]); rd:skip(4)
            info = string.format("SCUV REPORT expected %d lost %d frames %d lost %d rtt %d us", e, l, fc, fl, rtt)
        elseif ty == 0x13 then
            size_is(24)
            local fid = rd:u32(f["udp.frame_id"]); rd:skip(4)
            info = string.format("SCUV DONE frame %d", fid)
        elseif ty == 0x15 then -- AUDIO
            local pid = rd:u32(f["udp.packet_id"])
            local codec, cit = rd:u8(f["frame.codec"])
            local ch, chit = rd:u8(f["udp.channels"])
            local smp, sit = rd:u16(f["udp.samples"])
            local pl, plit = rd:u16(f["udp.payload_len"])
            local afl, afit = rd:u8(f["udp.audio_flags"])
            rd:skip(1)
            local seq = rd:u64(f["frame.sequence"])
            rd:i64(f["frame.capture_us"])
            size_is(44 + pl)
            if pl > 0 and rd:left() > 0 then rd:add(f["udp.payload"], math.min(pl, rd:left()), "payload") end
            if codec ~= 64 then bad(cit, pinfo, "AUDIO codec must be 64 (Opus)") end
            if ch ~= 1 and ch ~= 2 then bad(chit, pinfo, "channels must be 1 or 2") end
            if smp ~= 480 and smp ~= 960 then bad(sit, pinfo, "samples must be 480 or 960") end
            if pl < 1 or pl > 1132 then bad(plit, pinfo, "payload_len outside 1..1132") end
            if afl > 3 then bad(afit, pinfo, "unknown audio flags") end
            info = string.format("SCUV AUDIO packet %d seq %s %d bytes%s", pid, tostring(seq), pl,
                (afl % 2 == 1) and " resend" or "")
        elseif ty == 0x16 then -- AUDIO_NACK
            local c, cit = rd:u8(f["udp.count"])
            rd:skip(3)
            size_is(20 + 4 * c)
            if c < 1 or c > 16 then bad(cit, pinfo, "count outside 1..16") end
            local ids = {}
            for i = 1, math.min(c, math.floor(rd:left() / 4)) do ids[#ids + 1] = rd:u32(f["udp.packet_id"]) end
            info = "SCUV AUDIO_NACK " .. table.concat(ids, ",")
        elseif ty == 0x17 then -- KEYFRAME_REQUEST
            size_is(20)
            local r, rit2 = rd:u8(f["udp.kfr_reason"])
            if r > 2 then bad(rit2, pinfo, "reason above 2") end
            rd:skip(3)
            info = string.format("SCUV KEYFRAME_REQUEST %s", vname(kfr_reasons_udp, r))
        elseif ty == 0x20 then
            size_is(32)
            local id = rd:u32(f["ping.id"]); rd:u32(f["ping.rtt_us"]); rd:i64(f["ping.sent_us"])
            info = string.format("SCUV PING %d", id)
        elseif ty == 0x21 then
            size_is(40)
            local id = rd:u32(f["ping.id"]); rd:skip(4); rd:i64(f["ping.sent_us"]); rd:i64(f["pong.peer_time_us"])
            info = string.format("SCUV PONG %d", id)
        elseif ty == 0x30 then
            local s, sit2 = rd:u8(f["state"])
            if s > 1 then bad(sit2, pinfo, "state must be 0 or 1") end
            rd:skip(1)
            local txt = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
            size_is(20 + #txt)
            info = string.format("SCUV SIGNAL %s", vname(states, s))
            if txt ~= "" then info = info .. string.format(" %q", short_text(txt)) end
        elseif ty == 0x31 then
            local code = rd:u16(f["code"])
            local txt = rd:lstr(f["text_len"], 2, f["text"], 1024, 0)
            size_is(20 + #txt)
            info = string.format("SCUV BYE %s", vname(error_codes, code))
        else
            if n > 16 then t:add(f["udp.payload"], tvb(16)) end
        end
    end)
    if not ok then
        if err ~= TRUNC then error(err) end
        info = info .. " [truncated]"
    end
    if ok and rd.off < cap_n and ty ~= 0x01 and udp_types[ty] then
        bad(t:add(f["unexpected"], tvb(rd.off)), pinfo, "bytes after the datagram's layout")
    end
    pinfo.cols.info = info
    return n
end

-- SCIM over UDP (§2.1)
local function dissect_scim_udp(tvb, pinfo, tree)
    local n = tvb:reported_len() -- sizes are checked against what was sent
    local cap_n = tvb:len()       -- and fields read from what was captured
    local t = tree:add(proto, tvb())
    set_proto_col(pinfo)
    if n < 6 then
        bad(t, pinfo, "SCIM datagram shorter than its header")
        return n
    end
    if cap_n < 6 then
        t:add_proto_expert_info(ef_note, "packet size limited during capture")
        return n
    end
    t:add(f["image.magic"], tvb(0, 4), tvb(0, 4):string())
    local vit = t:add(f["image.version"], tvb(4, 1))
    local ty = tvb(5, 1):uint()
    local tit = t:add(f["image.type"], tvb(5, 1))
    if tvb(4, 1):uint() ~= 1 then bad(vit, pinfo, "SCIM version must be 1") end
    local tname = image_types[ty] or string.format("0x%02X", ty)
    local info = "SCIM " .. tname
    t:set_text(string.format("SocketCam image transfer (UDP) %s, %d bytes", tname, n))
    if ty == 0x10 or ty == 0x11 or not image_types[ty] then bad(tit, pinfo, "not a UDP image datagram type") end
    if n > 1200 then bad(t, pinfo, "datagram above 1200 bytes") end
    local rd = reader(tvb, t, 6, cap_n, "SCIM " .. tname)
    rd.snapped = cap_n < n
    local function size_is(e) if n ~= e then bad(t, pinfo, string.format("%s is %d bytes, its layout says %d", tname, n, e)) end end
    local ok, err = pcall(function()
        rd:skip(2)
        local tid = rd:u64(f["image.transfer_id"])
        if ty == 0x01 then
            local idx, iit = rd:u32(f["image.index"])
            local cnt, cit = rd:u32(f["image.count"])
            local tl = rd:u64(f["image.length"])
            rd:u32(f["image.crc32"])
            local pl, plit = rd:u16(f["image.payload_len"])
            rd:skip(2)
            size_is(40 + pl)
            if pl > 0 and rd:left() > 0 then rd:add(f["image.payload"], math.min(pl, rd:left()), "payload") end
            if idx >= cnt then bad(iit, pinfo, "index not below count") end
            if pl > 1160 then bad(plit, pinfo, "payload_len above 1160") end
            info = string.format("SCIM DATA %d/%d %d bytes", idx, cnt, pl)
        elseif ty == 0x02 then
            local miss = rd:u32(f["image.missing"])
            local rc, rcit = rd:u16(f["image.range_count"])
            local sq = rd:u16(f["image.sequence"])
            size_is(24 + 8 * rc)
            if rc < 1 or rc > 147 then bad(rcit, pinfo, "range_count outside 1..147") end
            for i = 1, math.min(rc, math.floor(rd:left() / 8)) do
                local s = rd.off
                local rt = t:add(tvb(s, 8), "Range")
                local a = rd:u32(f["image.range_first"], rt)
                local l = rd:u32(f["image.range_length"], rt)
                rt:append_text(string.format(" %d-%d", a, a + l - 1))
            end
            info = string.format("SCIM NACK %d missing, %d ranges, seq %d", miss, rc, sq)
        elseif ty == 0x03 then
            size_is(32)
            rd:u64(f["image.length"]); rd:u32(f["image.crc32"]); rd:skip(4)
        elseif ty == 0x04 then
            size_is(16)
        elseif ty == 0x05 then
            size_is(32)
            local code = rd:u16(f["image.code"]); rd:skip(6); rd:u64(f["image.value"])
            info = "SCIM ABORT " .. vname(image_codes, code)
        end
    end)
    if not ok then
        if err ~= TRUNC then error(err) end
        info = info .. " [truncated]"
    end
    pinfo.cols.info = info
    return n
end

local function dissect_udp(tvb, pinfo, tree)
    if tvb:len() >= 4 then
        local m = tvb(0, 4):string()
        if m == "SCIM" then return dissect_scim_udp(tvb, pinfo, tree) end
    end
    return dissect_scuv(tvb, pinfo, tree)
end

---------------------------------------------------------------------------------------------------
-- Entry points
---------------------------------------------------------------------------------------------------

-- dissectors the port tables held before we took a port (called for traffic that is not SocketCam's)
local previous = { tcp = {}, udp = {} }

local function udp_magic(tvb)
    if tvb:len() < 4 then return nil end
    local m = tvb(0, 4):string()
    if m == "SCUV" or m == "SCIM" then return m end
    return nil
end

function proto.dissector(tvb, pinfo, tree)
    if pinfo.port_type == 3 then -- UDP (PT_UDP)
        -- every datagram on a SocketCam UDP port is SocketCam's: one without SCUV/SCIM is a bad magic
        return dissect_udp(tvb, pinfo, tree)
    end
    local st = stream_state(pinfo, tvb)
    if not st.kind and not kind_of(tvb) then
        local old = previous.tcp[pinfo.dst_port] or previous.tcp[pinfo.src_port]
        if old then return old:call(tvb, pinfo, tree) end
        -- TLS on a SocketCam port (serve --tls, udp+tls:// key requests): not ours to read
        if tvb:len() >= 3 and tvb(0, 1):uint() >= 0x14 and tvb(0, 1):uint() <= 0x17 and tvb(1, 1):uint() == 3 then
            return 0
        end
    end
    return dissect_tcp(tvb, pinfo, tree)
end

local function heur_tcp(tvb, pinfo, tree)
    if not proto.prefs.heuristics then return false end
    local k = kind_of(tvb)
    if not k then return false end
    local st = stream_state(pinfo, tvb)
    st.kind = st.kind or k
    pinfo.conversation = proto
    dissect_tcp(tvb, pinfo, tree)
    return true
end

local function heur_udp(tvb, pinfo, tree)
    if not proto.prefs.heuristics then return false end
    if not udp_magic(tvb) then return false end
    dissect_udp(tvb, pinfo, tree)
    return true
end

proto:register_heuristic("tcp", heur_tcp)
proto:register_heuristic("udp", heur_udp)

local function ports_of(r)
    local out = {}
    for part in tostring(r or ""):gmatch("[^,%s]+") do
        local a, b = part:match("^(%d+)%-(%d+)$")
        if a then
            a, b = tonumber(a), tonumber(b)
            if b - a <= 1000 then for p = a, b do out[#out + 1] = p end end
        elseif tonumber(part) then
            out[#out + 1] = tonumber(part)
        end
    end
    return out
end

local registered = { tcp = {}, udp = {} }
local function register_ports()
    for _, kind in ipairs({ "tcp", "udp" }) do
        local tbl = DissectorTable.get(kind .. ".port")
        for _, p in ipairs(registered[kind]) do
            tbl:remove(p, proto)
            if previous[kind][p] then tbl:add(p, previous[kind][p]) end
        end
        previous[kind] = {}
        registered[kind] = {}
        for _, p in ipairs(ports_of(kind == "tcp" and proto.prefs.tcp_ports or proto.prefs.udp_ports)) do
            if p > 0 and p < 65536 then
                local old = tbl:get_dissector(p)
                if old then previous[kind][p] = old end
                tbl:add(p, proto)
                registered[kind][#registered[kind] + 1] = p
            end
        end
    end
end

function proto.prefs_changed() register_ports() end
function proto.init() streams = {}; frame_st = {}; syn_seen = {} end
register_ports()
