using System.Globalization;
using Moderation.Streams.Hashing.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// Bank snapshots: a bank's entries as binary blocks (<see cref="BankSnapshotBlock"/>), so a worker starting cold reads
/// a 10M-entry bank as ~150 values of a few MiB instead of scanning 10M hash fields and parsing 10M JSON documents.
/// </summary>
/// <remarks>
/// <para>Keys, all in the bank's cluster slot:</para>
/// <list type="bullet">
/// <item><c>bank:{NAME}:snapshot</c>: the manifest (<see cref="BankSnapshotInfo"/>): which blocks, the version they
/// reflect, the store's epoch.</item>
/// <item><c>bank:{NAME}:snapshot:{ID}:{N}</c>: the blocks (strings).</item>
/// <item><c>bank:{NAME}:snapshot:changed</c>: a set of the ids changed since the snapshot's version. Every change adds
/// its ids in its own transaction, conditional on the manifest it read, so the set and the manifest always agree;
/// a change that empties the bank, or would grow the set past <see cref="MaxSnapshotChanged"/> ids and half the
/// snapshot, drops the snapshot.</item>
/// <item><c>bank:{NAME}:snapshot:lock</c>: held (SET NX PX) by the one writer of a new snapshot.</item>
/// </list>
/// <para>A reader takes the manifest, the changed set and the version in one transaction, then the blocks: the
/// snapshot's entries, less the changed ids, plus the changed ids' entries as they are now, are the bank at that
/// version. A writer scans the bank (version read first), writes the blocks (expiring, until published), then
/// publishes in one transaction conditional on the version and the manifest: the manifest, and a changed set made of
/// the delta records between the version it scanned at and the current one (a scan sees each entry as it was at
/// some point during the scan; those records name every entry that changed meanwhile). The replaced snapshot's
/// blocks expire after <see cref="SnapshotGrace"/>, so a reader still fetching them finishes.</para>
/// </remarks>
public sealed partial class RedisBankStore
{
    private const int SnapshotPublishAttempts = 10;

    /// <summary>A change that would grow a snapshot's changed set past this many ids (or half the snapshot's entries, if
    /// more) drops the snapshot instead.</summary>
    public int MaxSnapshotChanged { get; init; } = 100_000;
    private const int SnapshotBlocksInFlight = 4;

    /// <summary>How long blocks of an unpublished snapshot live (a writer that dies leaves nothing for long).</summary>
    private static readonly TimeSpan UnpublishedBlockLife = TimeSpan.FromHours(1);

    /// <summary>How long a replaced or dropped snapshot's blocks stay readable.</summary>
    public TimeSpan SnapshotGrace { get; init; } = TimeSpan.FromMinutes(10);

    public string SnapshotKey(string bank) => $"{_prefix}bank:{{{bank}}}:snapshot";

    public string SnapshotChangedKey(string bank) => $"{_prefix}bank:{{{bank}}}:snapshot:changed";

    public string SnapshotLockKey(string bank) => $"{_prefix}bank:{{{bank}}}:snapshot:lock";

    public string SnapshotBlockKey(string bank, string id, int block) =>
        string.Create(CultureInfo.InvariantCulture, $"{_prefix}bank:{{{bank}}}:snapshot:{id}:{block}");

    /// <summary>The bank's snapshot manifest with the size of its changed set, or null when it has none.</summary>
    public async Task<BankSnapshotInfo?> GetSnapshotInfoAsync(string bank)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        var manifest = db.StringGetAsync(SnapshotKey(bank));
        var changed = db.SetLengthAsync(SnapshotChangedKey(bank));
        var info = BankSnapshotInfo.Parse(await manifest.ConfigureAwait(false));
        long count = await changed.ConfigureAwait(false);
        return info is null ? null : info with { Changed = count };
    }

    /// <summary>Writes a new snapshot of the bank from a whole scan and publishes it; null when there was nothing to
    /// publish (no such bank, or the bank was emptied, or changed more than <see cref="MaxDeltaSpan"/> times, during the
    /// scan: try again later).</summary>
    /// <exception cref="InvalidDataException">The scan does not add up to the bank (see the remarks in the code); nothing published.</exception>
    public async Task<BankSnapshotInfo?> WriteSnapshotAsync(string bank, CancellationToken ct = default)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        var epoch = db.StringGetAsync(EpochKey);
        var versionRead = db.StringGetAsync(VersionKey(bank));
        string? storeEpoch = await epoch.ConfigureAwait(false);
        long version = ParseVersion(await versionRead.ConfigureAwait(false));
        if (storeEpoch is null || version == 0) return null;

        string id = Guid.NewGuid().ToString("N");
        var writer = new BankSnapshotBlock.Writer();
        var pending = new Queue<Task>();
        // A fingerprint of every id the scan handed over: to check, before publishing, that the snapshot and its changed
        // set make up exactly as many entries as the bank holds. A scan is not atomic, and not every server keeps
        // SCAN's promise under concurrent writes (Garnet was seen to skip a field that was never changed): such a
        // snapshot is not published.
        var scannedIds = new List<ulong>((int)Math.Min(int.MaxValue / 16, await CountAsync(bank).ConfigureAwait(false) + 1024));
        int blocks = 0;
        long bytes = 0, entries = 0;
        bool published = false;
        try
        {
            await foreach (var page in PagesAsync(db, bank, ct).ConfigureAwait(false))
            {
                foreach (var entry in page.Entries)
                {
                    writer.Add(entry);
                    scannedIds.Add(IdFingerprint(entry.Id));
                    entries++;
                    if (writer.IsFull) await FlushAsync().ConfigureAwait(false);
                }
                // Held in the bank but not readable: not in the snapshot, as a reader of the bank would not load it either.
                foreach (var undecodable in page.Undecodable ?? []) scannedIds.Add(IdFingerprint(undecodable));
            }
            if (writer.Count > 0) await FlushAsync().ConfigureAwait(false);
            while (pending.Count > 0) await pending.Dequeue().ConfigureAwait(false);
            var scanned = scannedIds.ToArray();
            scannedIds = null;
            Array.Sort(scanned);
            long distinct = scanned.Length == 0 ? 0 : 1;
            for (int i = 1; i < scanned.Length; i++) if (scanned[i] != scanned[i - 1]) distinct++;

            for (int attempt = 1; attempt <= SnapshotPublishAttempts; attempt++)
            {
                ct.ThrowIfCancellationRequested();
                var head = await db.StringGetAsync([VersionKey(bank), SnapshotKey(bank)]).ConfigureAwait(false);
                long current = ParseVersion(head[0]);
                // The changes made during the scan: the scan may have seen each before or after it.
                if (await ReadChangesAsync(bank, version, current).ConfigureAwait(false) is not { } changes) return null;
                // What a reader would hold (the scanned ids less the changed ones, plus the changed ones there now)
                // against what the bank holds, both as of `current` (the transaction below is conditional on it).
                var changedIds = changes.Ids.ToArray();
                var length = db.HashLengthAsync(EntriesKey(bank));
                // (Present whatever their values: an undecodable field counts in HLEN as in the scan's fingerprints.)
                long present = (await FieldsAsync(db, bank, changedIds).ConfigureAwait(false)).Count(v => !v.IsNull);
                long reconstructed = distinct - changedIds.Count(c => Array.BinarySearch(scanned, IdFingerprint(c)) >= 0) + present;
                long held = await length.ConfigureAwait(false);
                if (reconstructed != held)
                {
                    if (attempt < SnapshotPublishAttempts && await db.StringGetAsync(VersionKey(bank)).ConfigureAwait(false) != head[0]) continue;
                    throw new InvalidDataException(
                        $"bank {bank}: the scan for a snapshot makes {reconstructed} entries with the changes made meanwhile, the bank holds {held} (the server's scan skipped or repeated entries under concurrent writes); not published");
                }
                var info = new BankSnapshotInfo(id, version, storeEpoch, entries, blocks, bytes, DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds()));
                var tx = db.CreateTransaction();
                tx.AddCondition(Condition.StringEqual(VersionKey(bank), head[0]));
                tx.AddCondition(head[1].IsNull ? Condition.KeyNotExists(SnapshotKey(bank)) : Condition.StringEqual(SnapshotKey(bank), head[1]));
                DropSnapshot(tx, bank, BankSnapshotInfo.Parse(head[1]));
                _ = tx.StringSetAsync(SnapshotKey(bank), info.Format());
                if (changedIds.Length > 0) _ = tx.SetAddAsync(SnapshotChangedKey(bank), [.. changedIds.Select(i => (RedisValue)i)]);
                for (int b = 0; b < blocks; b++) _ = tx.KeyPersistAsync(SnapshotBlockKey(bank, id, b));
                if (await tx.ExecuteAsync().ConfigureAwait(false))
                {
                    published = true;
                    return info with { Changed = changedIds.Length };
                }
            }
            return null;
        }
        finally
        {
            if (!published)
            {
                while (pending.Count > 0)
                    try { await pending.Dequeue().ConfigureAwait(false); } catch (RedisException) { }
                if (blocks > 0)
                    try { await db.KeyDeleteAsync([.. Enumerable.Range(0, blocks).Select(b => (RedisKey)SnapshotBlockKey(bank, id, b))]).ConfigureAwait(false); }
                    catch (RedisException) { } // they expire on their own
            }
        }

        async Task FlushAsync()
        {
            var block = writer.Encode();
            bytes += block.Length;
            pending.Enqueue(db.StringSetAsync(SnapshotBlockKey(bank, id, blocks++), block, UnpublishedBlockLife));
            while (pending.Count > SnapshotBlocksInFlight) await pending.Dequeue().ConfigureAwait(false);
        }
    }

    private static ulong IdFingerprint(string id) => System.IO.Hashing.XxHash3.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(id));

    /// <summary>Reads the bank's snapshot: hands each block to <paramref name="each"/> in order (decoded on other cores,
    /// the entries changed since marked skipped; a block is valid only during the call), and returns the version it makes up to together with the changed
    /// ids, whose current entries the caller reads (<see cref="ReadEntriesAsync"/>). Null when the bank has no
    /// snapshot, or one of another store epoch than <paramref name="epoch"/>.</summary>
    /// <exception cref="InvalidDataException">A block is missing or damaged (read the bank whole instead).</exception>
    /// <param name="begin">Told the manifest before the first block is fetched (e.g. to size what the blocks go into).</param>
    public async Task<BankSnapshotRead?> ReadSnapshotAsync(string bank, string? epoch, Action<BankSnapshotBlock> each, CancellationToken ct = default,
        Action<BankSnapshotInfo>? begin = null)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(each);
        var db = _redis.GetDatabase();
        var tx = db.CreateTransaction();
        var manifestRead = tx.StringGetAsync(SnapshotKey(bank));
        var changedRead = tx.SetMembersAsync(SnapshotChangedKey(bank));
        var versionRead = tx.StringGetAsync(VersionKey(bank));
        var changedAtRead = tx.StringGetAsync(ChangedAtKey(bank));
        var lengthRead = tx.HashLengthAsync(EntriesKey(bank));
        if (!await tx.ExecuteAsync().ConfigureAwait(false)) return null;
        var info = BankSnapshotInfo.Parse(await manifestRead.ConfigureAwait(false));
        if (info is null || info.Epoch != epoch) return null;
        var changed = new HashSet<string>((await changedRead.ConfigureAwait(false)).Select(v => (string)v!), StringComparer.Ordinal);
        // The snapshot's entries were the bank's; those removed since are in the changed set. A manifest claiming far more
        // (damaged, or written by hand) would have the reader set memory aside for entries that do not exist: not used.
        long held = await lengthRead.ConfigureAwait(false);
        if (info.Entries > (held + changed.Count) + (held + changed.Count) / 10 + 1024)
            throw new InvalidDataException($"bank {bank} snapshot {info.Id}: its manifest claims {info.Entries} entries, the bank holds {held} and {changed.Count} changed since");
        long version = ParseVersion(await versionRead.ConfigureAwait(false));
        var changedAt = ParseChangedAt(await changedAtRead.ConfigureAwait(false));

        begin?.Invoke(info with { Changed = changed.Count });
        var fetching = new Queue<Task<BankSnapshotBlock>>();
        long entries = 0;
        for (int b = 0; b < info.Blocks || fetching.Count > 0;)
        {
            ct.ThrowIfCancellationRequested();
            while (b < info.Blocks && fetching.Count < SnapshotBlocksInFlight) fetching.Enqueue(FetchAsync(b++));
            using var block = await fetching.Dequeue().ConfigureAwait(false);
            entries += block.Count;
            each(block);
        }
        if (entries != info.Entries) throw new InvalidDataException($"bank {bank} snapshot {info.Id}: {entries} entries in its blocks, its manifest says {info.Entries}");
        return new BankSnapshotRead(info with { Changed = changed.Count }, version, changedAt, changed);

        async Task<BankSnapshotBlock> FetchAsync(int b)
        {
            // Leased from the client's buffer pool and read in place by the block until the loop above disposes it. A block
            // that times out (a few MiB on a busy server) is asked for again, as a scan page is.
            var value = await AgainOnTimeoutAsync(() => db.StringGetLeaseAsync(SnapshotBlockKey(bank, info.Id, b)), ct).ConfigureAwait(false)
                ?? throw new InvalidDataException($"bank {bank} snapshot {info.Id}: block {b} of {info.Blocks} is missing");
            try
            {
                return await Task.Run(() =>
                {
                    var block = BankSnapshotBlock.Decode(value.Memory, value);
                    block.Skip(changed);
                    return block;
                }, ct).ConfigureAwait(false);
            }
            catch
            {
                value.Dispose();
                throw;
            }
        }
    }

    /// <summary>How long a snapshot writer holds the bank's lock at most (a writer that dies frees it then).</summary>
    public static readonly TimeSpan SnapshotLockHold = TimeSpan.FromMinutes(30);

    /// <summary>Writes a snapshot (<see cref="WriteSnapshotAsync"/>) as <paramref name="owner"/> of the bank's snapshot lock,
    /// so one writer of many does; <c>Locked</c> false when another writer holds it (nothing written). The lock is given
    /// back however the write ends.</summary>
    public async Task<(bool Locked, BankSnapshotInfo? Written)> WriteSnapshotLockedAsync(string bank, string owner, CancellationToken ct = default)
    {
        if (!await TryLockSnapshotAsync(bank, owner, SnapshotLockHold).ConfigureAwait(false)) return (false, null);
        try
        {
            return (true, await WriteSnapshotAsync(bank, ct).ConfigureAwait(false));
        }
        finally
        {
            await ReleaseSnapshotLockAsync(bank, owner).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the bank's snapshot lock for <paramref name="hold"/> (so one worker of many writes a new snapshot);
    /// false when another holds it.</summary>
    public async Task<bool> TryLockSnapshotAsync(string bank, string owner, TimeSpan hold) =>
        await _redis.GetDatabase().StringSetAsync(SnapshotLockKey(BankNames.Validate(bank)), owner, hold, When.NotExists).ConfigureAwait(false);

    /// <summary>Gives the lock back if <paramref name="owner"/> still holds it.</summary>
    public async Task ReleaseSnapshotLockAsync(string bank, string owner)
    {
        var tx = _redis.GetDatabase().CreateTransaction();
        tx.AddCondition(Condition.StringEqual(SnapshotLockKey(BankNames.Validate(bank)), owner));
        _ = tx.KeyDeleteAsync(SnapshotLockKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
    }

    /// <summary>Drops the bank's snapshot (workers read the bank whole until a new one is written). False when it had none.</summary>
    public async Task<bool> DeleteSnapshotAsync(string bank)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        for (int attempt = 1; attempt <= SnapshotPublishAttempts; attempt++)
        {
            var manifest = await db.StringGetAsync(SnapshotKey(bank)).ConfigureAwait(false);
            if (manifest.IsNull) return false;
            var tx = db.CreateTransaction();
            tx.AddCondition(Condition.StringEqual(SnapshotKey(bank), manifest));
            DropSnapshot(tx, bank, BankSnapshotInfo.Parse(manifest));
            if (await tx.ExecuteAsync().ConfigureAwait(false)) return true;
        }
        throw new RedisException($"bank {bank}: its snapshot changed under {SnapshotPublishAttempts} attempts in a row");
    }

    // Within a transaction: the manifest and changed set go now, the blocks after the grace (a reader may be fetching them).
    private void DropSnapshot(ITransaction tx, string bank, BankSnapshotInfo? info)
    {
        _ = tx.KeyDeleteAsync([SnapshotKey(bank), SnapshotChangedKey(bank)]);
        if (info is null) return;
        for (int b = 0; b < info.Blocks; b++) _ = tx.KeyExpireAsync(SnapshotBlockKey(bank, info.Id, b), SnapshotGrace);
    }
}

/// <summary>A bank snapshot's manifest: blocks <c>0..Blocks-1</c> under <paramref name="Id"/> hold the bank's
/// <paramref name="Entries"/> entries as of <paramref name="Version"/>, in the store of <paramref name="Epoch"/>.</summary>
public sealed record BankSnapshotInfo(string Id, long Version, string Epoch, long Entries, int Blocks, long Bytes, DateTimeOffset WrittenAt)
{
    private const string Tag = "snapshot1";

    /// <summary>Ids changed since <see cref="Version"/> (the size of the changed set when read).</summary>
    public long Changed { get; init; }

    /// <summary>The manifest as stored: <c>snapshot1 ID VERSION EPOCH ENTRIES BLOCKS BYTES WRITTEN_AT_MS</c>.</summary>
    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"{Tag} {Id} {Version} {Epoch} {Entries} {Blocks} {Bytes} {WrittenAt.ToUnixTimeMilliseconds()}");

    /// <summary>A stored manifest, or null when absent or not one this version reads.</summary>
    public static BankSnapshotInfo? Parse(RedisValue value)
    {
        if (value.IsNull) return null;
        var parts = ((string)value!).Split(' ');
        var inv = CultureInfo.InvariantCulture;
        if (parts.Length != 8 || parts[0] != Tag || parts[1].Length == 0 || parts[1].Contains('{') || parts[1].Contains('}')
            || !long.TryParse(parts[2], NumberStyles.None, inv, out long version)
            || !long.TryParse(parts[4], NumberStyles.None, inv, out long entries)
            || !int.TryParse(parts[5], NumberStyles.None, inv, out int blocks)
            || !long.TryParse(parts[6], NumberStyles.None, inv, out long bytes)
            || !long.TryParse(parts[7], NumberStyles.None, inv, out long ms) || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            || blocks > (entries + BankSnapshotBlock.MaxEntries - 1) / BankSnapshotBlock.MaxEntries + 1
            || entries > (long)blocks * BankSnapshotBlock.MaxEntries)
            return null;
        return new BankSnapshotInfo(parts[1], version, parts[3], entries, blocks, bytes, DateTimeOffset.FromUnixTimeMilliseconds(ms));
    }
}

/// <summary>What <see cref="RedisBankStore.ReadSnapshotAsync"/> read: the snapshot, the bank's version and last change
/// time read with it, and the ids changed since the snapshot (their entries are to be read as they are now).</summary>
public sealed record BankSnapshotRead(BankSnapshotInfo Snapshot, long Version, DateTimeOffset? ChangedAt, HashSet<string> ChangedIds);
