using System.Net;
using SocketCam.Limits;

namespace SocketCam.Tests.Limits;

public sealed class LimitPrimitivesTests
{
    private static readonly AddressKey A = AddressKey.From(IPAddress.Parse("127.0.0.2"));
    private static readonly AddressKey B = AddressKey.From(IPAddress.Parse("127.0.0.1"));

    [Fact]
    public void Ipv4_mapped_addresses_are_the_same_address_and_ipv6_counts_by_its_64_prefix()
    {
        Assert.Equal(A, AddressKey.From(IPAddress.Parse("::ffff:127.0.0.2")));
        Assert.Equal("127.0.0.2", A.ToString());
        AddressKey v6 = AddressKey.From(IPAddress.Parse("2001:db8:1:2:aaaa::1"));
        Assert.Equal(v6, AddressKey.From(IPAddress.Parse("2001:db8:1:2:bbbb::9")));
        Assert.NotEqual(v6, AddressKey.From(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal("2001:db8:1:2::/64", v6.ToString());
        Assert.Null(AddressKey.Of(new System.Net.Sockets.UnixDomainSocketEndPoint("/tmp/x.sock")));
    }

    [Fact]
    public void One_address_cannot_take_another_addresses_slots()
    {
        var slots = new AddressSlots(3);
        Assert.True(slots.TryAcquire(A));
        Assert.True(slots.TryAcquire(A));
        Assert.True(slots.TryAcquire(A));
        Assert.False(slots.TryAcquire(A));
        Assert.True(slots.TryAcquire(B));
        slots.Release(A);
        Assert.True(slots.TryAcquire(A));
        Assert.Equal(3, slots.CountOf(A));
        // Unix peers have no address: never counted.
        Assert.All(Enumerable.Range(0, 10), _ => Assert.True(slots.TryAcquire((AddressKey?)null)));
    }

    [Fact]
    public void A_byte_budget_caps_each_address_and_everybody_and_gives_back_what_was_released()
    {
        var budget = new ByteBudget(total: 100, perAddress: 60);
        Assert.True(budget.TryReserve(A, 50));
        Assert.False(budget.TryReserve(A, 20)); // over A's 60
        Assert.True(budget.TryReserve(B, 50));
        Assert.False(budget.TryReserve(B, 1)); // over the total of 100
        Assert.Equal(100, budget.InUse);
        budget.Release(A, 50);
        Assert.Equal(0, budget.InUseBy(A));
        Assert.True(budget.TryReserve(B, 10));
        Assert.Equal(60, budget.InUse);
        Assert.Equal(100, budget.Peak);
    }

    [Fact]
    public void A_budget_says_once_when_a_burst_has_drained_and_not_for_small_ups_and_downs()
    {
        int drained = 0;
        var budget = new ByteBudget(total: 1000, perAddress: 1000) { BurstBytes = 400, AfterBurst = () => drained++ };
        Assert.True(budget.TryReserve(A, 300));
        budget.Release(A, 300);
        Assert.Equal(0, drained); // never reached a burst
        Assert.True(budget.TryReserve(A, 250));
        Assert.True(budget.TryReserve(B, 250));
        budget.Release(A, 250);
        Assert.Equal(0, drained); // 250 still held: more than an eighth of the burst
        budget.Release(B, 200);
        Assert.Equal(1, drained);
        budget.Release(B, 50);
        Assert.Equal(1, drained); // the same burst is reported once
    }

    [Fact]
    public async Task The_reclaimer_coalesces_requests_into_one_full_collection()
    {
        await using var reclaimer = new MemoryReclaimer { Settle = TimeSpan.FromMilliseconds(50), MinInterval = TimeSpan.FromSeconds(30) };
        int fullCollections = GC.CollectionCount(2);
        // 200 MB of garbage the collector has not looked at yet.
        for (int i = 0; i < 200; i++)
        {
            GC.KeepAlive(new byte[1 << 20]);
        }

        for (int i = 0; i < 10; i++)
        {
            reclaimer.RequestCollection("a test burst");
        }

        await Support.Eventually.UntilAsync(() => reclaimer.Collections == 1, "one collection");
        reclaimer.RequestCollection("a second burst"); // within MinInterval: waits, not run now
        await Task.Delay(200);
        Assert.Equal(1, reclaimer.Collections);
        // A real full collection ran (other tests in this process may run more; the reclaimer ran exactly one).
        Assert.True(GC.CollectionCount(2) > fullCollections);
    }

    [Fact]
    public void Failed_attempts_block_an_address_after_its_free_ones_doubling_and_a_success_forgets()
    {
        var throttle = new FailedAttemptThrottle(freeFailures: 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.RecordFailure(A));
            Assert.False(throttle.IsBlocked(A, out _));
        }

        Assert.Equal(TimeSpan.FromSeconds(1), throttle.RecordFailure(A));
        Assert.True(throttle.IsBlocked(A, out TimeSpan retry));
        Assert.InRange(retry, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.RecordFailure(A));
        Assert.Equal(TimeSpan.FromSeconds(4), throttle.RecordFailure(A));
        for (int i = 0; i < 10; i++)
        {
            throttle.RecordFailure(A);
        }

        Assert.True(throttle.IsBlocked(A, out retry));
        Assert.InRange(retry, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(60));
        Assert.False(throttle.IsBlocked(B, out _));
        throttle.RecordSuccess(A);
        Assert.False(throttle.IsBlocked(A, out _));
    }

    [Fact]
    public void The_throttle_remembers_a_bounded_number_of_addresses()
    {
        var throttle = new FailedAttemptThrottle(freeFailures: 0, maxTracked: 100);
        for (int i = 0; i < 10_000; i++)
        {
            throttle.RecordFailure(AddressKey.From(new IPAddress(BitConverter.GetBytes(0x0A000000 + i))));
        }

        // The newest addresses are still blocked; memory stayed at 100 entries (the oldest were forgotten).
        Assert.True(throttle.IsBlocked(AddressKey.From(new IPAddress(BitConverter.GetBytes(0x0A000000 + 9_999))), out _));
        Assert.False(throttle.IsBlocked(AddressKey.From(new IPAddress(BitConverter.GetBytes(0x0A000000))), out _));
    }

    [Fact]
    public void Refusals_are_counted_by_reason_with_stable_labels()
    {
        var counters = new RefusalCounters();
        counters.Count(Refusal.AddressLimit);
        counters.Count(Refusal.AddressLimit);
        counters.Count(Refusal.ForbiddenOrigin);
        Assert.Equal(2, counters[Refusal.AddressLimit]);
        Assert.Equal(0, counters[Refusal.Throttled]);
        Assert.All(Enum.GetValues<Refusal>(), r => Assert.Matches("^[a-z_]+$", RefusalCounters.Label(r)));
    }
}
