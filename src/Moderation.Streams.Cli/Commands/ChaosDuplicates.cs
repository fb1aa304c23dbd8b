namespace Moderation.Streams.Cli.Commands;

/// <summary>Why an upload was decided again after a crash.</summary>
public enum DuplicateCause
{
    /// <summary>Finished, every upload before it in its partition finished too, but its offset was not committed yet
    /// when the worker died: the commit cadence's cost.</summary>
    Uncommitted,

    /// <summary>Finished behind an upload of its partition still in flight when the worker died (its offset could not
    /// be committed past the gap): the in-flight limit's cost.</summary>
    InFlight,

    /// <summary>Below the partition's committed offset at the last kill, or before any kill: re-screened after a
    /// partition moved without its finished work being committed (a rebalance, not the crash).</summary>
    Rebalance,
}

/// <summary>The duplicates of one kill, by cause.</summary>
public sealed record KillDuplicates(int Number, TimeSpan At, int Worker)
{
    public long Uncommitted { get; internal set; }
    public long InFlight { get; internal set; }
    public long Rebalance { get; internal set; }
    public long Total => Uncommitted + InFlight + Rebalance;
}

/// <summary>
/// The chaos suite's account of duplicate outcomes. Each outcome names its source partition and offset; at each kill
/// the suite records the group's committed offsets (the dead worker commits nothing more) and this ledger notes, per
/// partition, the first offset at or above the commit that has no outcome yet (the oldest upload still in flight). An
/// outcome for an upload already decided is a duplicate, attributed to the last kill before it arrived and classified by
/// where its offset lay at that kill: between the commit and that gap it was finished but uncommitted; above the gap it
/// finished behind in-flight work; below the commit it was replayed by a rebalance. Not thread-safe.
/// </summary>
public sealed class DuplicateLedger(int partitions)
{
    private readonly HashSet<long>[] _decided = Enumerable.Range(0, partitions).Select(_ => new HashSet<long>()).ToArray();
    private readonly HashSet<string> _ids = [];
    private readonly List<KillDuplicates> _kills = [];
    private long[] _committed = [];
    private long[] _gap = [];

    /// <summary>Duplicates that arrived before the first kill (a rebalance of live workers).</summary>
    public KillDuplicates BeforeKills { get; } = new(0, TimeSpan.Zero, -1);

    public IReadOnlyList<KillDuplicates> Kills => _kills;

    public long Duplicates { get; private set; }

    /// <summary>Uploads with at least one outcome.</summary>
    public int Decided => _ids.Count;

    /// <summary>The largest number of duplicates one kill caused.</summary>
    public long LargestBurst => _kills.Count == 0 ? BeforeKills.Total : Math.Max(BeforeKills.Total, _kills.Max(k => k.Total));

    public long Count(DuplicateCause cause) => _kills.Append(BeforeKills).Sum(k => cause switch
    {
        DuplicateCause.Uncommitted => k.Uncommitted,
        DuplicateCause.InFlight => k.InFlight,
        _ => k.Rebalance,
    });

    /// <summary>A worker was killed; <paramref name="committed"/> holds the group's committed offset per partition
    /// (negative: none).</summary>
    public void Killed(TimeSpan at, int worker, IReadOnlyList<long> committed)
    {
        _committed = [.. committed.Select(c => Math.Max(0, c))];
        _gap = new long[partitions];
        for (int p = 0; p < partitions; p++)
        {
            long offset = _committed[p];
            while (_decided[p].Contains(offset)) offset++;
            _gap[p] = offset;
        }
        _kills.Add(new KillDuplicates(_kills.Count + 1, at, worker));
    }

    /// <summary>An outcome arrived for <paramref name="contentId"/> from <paramref name="partition"/>/<paramref name="offset"/>
    /// (null when the record did not say). Returns the cause when it is a duplicate, else null.</summary>
    public DuplicateCause? Outcome(string contentId, int? partition, long? offset)
    {
        bool first = _ids.Add(contentId);
        if (partition is { } p && p >= 0 && p < partitions && offset is { } o) _decided[p].Add(o);
        if (first) return null;
        Duplicates++;
        var kill = _kills.Count > 0 ? _kills[^1] : BeforeKills;
        var cause = _kills.Count == 0 || partition is not { } part || part < 0 || part >= partitions || offset is not { } off || off < _committed[part]
            ? DuplicateCause.Rebalance
            : off < _gap[part] ? DuplicateCause.Uncommitted : DuplicateCause.InFlight;
        switch (cause)
        {
            case DuplicateCause.Uncommitted: kill.Uncommitted++; break;
            case DuplicateCause.InFlight: kill.InFlight++; break;
            default: kill.Rebalance++; break;
        }
        return cause;
    }
}
