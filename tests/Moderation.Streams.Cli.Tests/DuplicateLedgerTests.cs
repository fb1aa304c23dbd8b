using Moderation.Streams.Cli.Commands;

namespace Moderation.Streams.Cli.Tests;

public sealed class DuplicateLedgerTests
{
    [Fact]
    public void Each_duplicate_is_charged_to_the_last_kill_by_where_its_offset_lay_when_the_worker_died()
    {
        var ledger = new DuplicateLedger(partitions: 2);
        // Partition 0: offsets 0-5 decided, 6 still in flight, 7-8 decided behind it. Partition 1: 0-3 decided.
        foreach (long o in new long[] { 0, 1, 2, 3, 4, 5, 7, 8 }) Assert.Null(ledger.Outcome($"p0-{o}", 0, o));
        foreach (long o in new long[] { 0, 1, 2, 3 }) Assert.Null(ledger.Outcome($"p1-{o}", 1, o));

        // The dead worker had committed partition 0 up to 4, partition 1 up to 4 (everything).
        ledger.Killed(TimeSpan.FromSeconds(4), worker: 1, committed: [4, 4]);

        Assert.Null(ledger.Outcome("p0-6", 0, 6));                                          // first outcome: no duplicate
        Assert.Equal(DuplicateCause.Uncommitted, ledger.Outcome("p0-4", 0, 4));            // finished, contiguous, not committed
        Assert.Equal(DuplicateCause.Uncommitted, ledger.Outcome("p0-5", 0, 5));
        Assert.Equal(DuplicateCause.InFlight, ledger.Outcome("p0-7", 0, 7));               // finished behind offset 6
        Assert.Equal(DuplicateCause.Rebalance, ledger.Outcome("p1-2", 1, 2));              // below the commit

        ledger.Killed(TimeSpan.FromSeconds(8), worker: 0, committed: [9, 4]);
        Assert.Equal(DuplicateCause.Rebalance, ledger.Outcome("p0-8", 0, 8));              // committed before this kill

        Assert.Equal(5, ledger.Duplicates);
        Assert.Equal((2L, 1L, 1L), (ledger.Kills[0].Uncommitted, ledger.Kills[0].InFlight, ledger.Kills[0].Rebalance));
        Assert.Equal(1, ledger.Kills[1].Rebalance);
        Assert.Equal(4, ledger.LargestBurst);
        Assert.Equal(2, ledger.Count(DuplicateCause.Uncommitted));
        Assert.Equal(13, ledger.Decided);
    }

    [Fact]
    public void Duplicates_before_any_kill_come_from_rebalances()
    {
        var ledger = new DuplicateLedger(partitions: 1);
        Assert.Null(ledger.Outcome("a", 0, 0));
        Assert.Equal(DuplicateCause.Rebalance, ledger.Outcome("a", 0, 0));
        Assert.Equal(1, ledger.BeforeKills.Rebalance);
        Assert.Empty(ledger.Kills);
    }
}
