using System.Text;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Bank entries stored by column, with the structure that searches their hashes: a multi-index for many, a linear
/// scan for few (a multi-index carries 4 MiB of bucket starts whatever its size; a scan of a few thousand hashes is
/// microseconds). Immutable once built.
/// </summary>
/// <remarks>
/// An entry costs no object: its hash lives in the search structure, its id as UTF-8 bytes in one array, bank, label
/// and source as indexes into tables of distinct strings, quality and added_at in arrays of their own (~40 bytes
/// plus the id for 10M entries, against ~200 as objects). A <see cref="BankEntry"/> is made only for a match or a
/// caller that asks. An open-addressing table over (bank, id) finds an entry's position without a dictionary of strings.
/// </remarks>
internal sealed class BankSegment
{
    /// <summary>Up to this many entries a segment is scanned rather than indexed (unless an index is asked for).</summary>
    public const int ScanLimit = 4096;

    private readonly MultiIndexHashIndex? _index;
    private readonly BruteForceSearch? _scan;
    private readonly string[] _banks;
    private readonly ushort[] _bank;
    private readonly byte[] _quality;
    private readonly long[] _addedTicks;
    private readonly string[] _strings;
    private readonly int[] _label;
    private readonly int[] _source;
    private readonly byte[] _ids;
    private readonly int[] _idStart;
    // Open addressing over (bank, id): the id's 32-bit hash in the high half (so a probe rarely reads an id) and the
    // position + 1 in the low half (0: empty).
    private readonly ulong[] _slots;
    private Dictionary<(string Bank, string Video), int>? _frames;

    private BankSegment(Builder b, MultiIndexHashIndex? index, BruteForceSearch? scan)
    {
        Count = b.Count;
        _index = index;
        _scan = scan;
        _banks = [.. b.Banks];
        _bank = b.Bank;
        _quality = b.Quality;
        _addedTicks = b.AddedTicks;
        _strings = [.. b.Strings];
        _label = b.Label;
        _source = b.Source;
        _ids = b.Ids;
        _idStart = b.IdStart;
        _slots = new ulong[SlotsFor(Count)];
    }

    public static BankSegment Empty { get; } = new Builder(0).Build(preferIndex: false, out _);

    public int Count { get; }

    /// <summary>Native bytes of the search structure.</summary>
    public long MemoryBytes => _index?.MemoryBytes ?? 32L * (_scan?.Count ?? 0);

    /// <summary>Managed bytes of the columns and the position table (approximate: array payloads).</summary>
    public long ColumnBytes => 2L * _bank.Length + _quality.Length + 8L * _addedTicks.Length + 4L * (_label.Length + _source.Length + _idStart.Length) + 8L * _slots.Length + _ids.Length;

    public PdqHash HashAt(int position) => _index is not null ? _index[position] : _scan!.HashAt(position);

    public string BankAt(int position) => _banks[_bank[position]];

    public string IdAt(int position) => Encoding.UTF8.GetString(IdBytes(position));

    public BankEntry EntryAt(int position) => new(BankAt(position), IdAt(position), HashAt(position), _quality[position],
        StringAt(_label[position]), StringAt(_source[position]), new DateTimeOffset(_addedTicks[position], TimeSpan.Zero));

    /// <summary>Whether the entry at <paramref name="position"/>, found by <paramref name="entry"/>'s bank and id, holds
    /// the same hash and metadata (compared in place, no object made).</summary>
    public bool SameContent(int position, BankEntry entry) =>
        _quality[position] == entry.Quality && _addedTicks[position] == entry.AddedAt.UtcTicks && HashAt(position) == entry.Hash
        && StringAt(_label[position]) == entry.Label && StringAt(_source[position]) == entry.Source;

    /// <summary>The position of the entry with this bank and id, or -1.</summary>
    public int Find(string bank, string id)
    {
        int b = Array.IndexOf(_banks, bank);
        if (b < 0 || Count == 0) return -1;
        int length = Encoding.UTF8.GetByteCount(id);
        Span<byte> key = length <= 1024 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(id, key);
        int mask = _slots.Length - 1;
        uint hash = Hash(b, key);
        for (int slot = (int)(hash & mask); ; slot = (slot + 1) & mask)
        {
            ulong value = _slots[slot];
            if (value == 0) return -1;
            int at = (int)(uint)value - 1;
            if ((uint)(value >> 32) == hash && _bank[at] == b && IdBytes(at).SequenceEqual(key)) return at;
        }
    }

    public void Search(PdqHash query, int maxDistance, List<IndexHit> hits)
    {
        if (_index is not null) _index.Search(query, maxDistance, hits);
        else _scan?.Search(query, maxDistance, hits);
    }

    /// <summary>Frames of each banked video in the segment (ids <c>{video}#t=…</c>), counted once.</summary>
    public IReadOnlyDictionary<(string Bank, string Video), int> Frames()
    {
        var frames = Volatile.Read(ref _frames);
        if (frames is not null) return frames;
        frames = [];
        var separator = FrameSeparator;
        for (int p = 0; p < Count; p++)
        {
            var id = IdBytes(p);
            int at = id.LastIndexOf(separator);
            if (at <= 0) continue;
            var key = (BankAt(p), Encoding.UTF8.GetString(id[..at]));
            frames[key] = frames.GetValueOrDefault(key) + 1;
        }
        Volatile.Write(ref _frames, frames);
        return frames;
    }

    // VideoMatcher's frame-id separator in UTF-8, as the ids are held.
    private static readonly byte[] FrameSeparator = Encoding.UTF8.GetBytes(VideoMatcher.FrameSeparator);

    private ReadOnlySpan<byte> IdBytes(int position) => _ids.AsSpan(_idStart[position], _idStart[position + 1] - _idStart[position]);

    private string? StringAt(int index) => index < 0 ? null : _strings[index];

    private static int SlotsFor(int count)
    {
        int slots = 16;
        while (slots < count + count / 2) slots <<= 1;
        return slots;
    }

    private static uint Hash(int bank, ReadOnlySpan<byte> id)
    {
        var hash = new HashCode();
        hash.Add(bank);
        hash.AddBytes(id);
        return (uint)hash.ToHashCode();
    }

    // Fills the position table; an entry whose bank and id an earlier one had replaces it there, and the earlier
    // position is returned as a duplicate (the caller hides it).
    private List<int> Place()
    {
        var duplicates = new List<int>();
        int mask = _slots.Length - 1;
        for (int p = 0; p < Count; p++)
        {
            var id = IdBytes(p);
            uint hash = Hash(_bank[p], id);
            ulong mine = ((ulong)hash << 32) | (uint)(p + 1);
            for (int slot = (int)(hash & mask); ; slot = (slot + 1) & mask)
            {
                ulong value = _slots[slot];
                if (value == 0)
                {
                    _slots[slot] = mine;
                    break;
                }
                int at = (int)(uint)value - 1;
                if ((uint)(value >> 32) == hash && _bank[at] == _bank[p] && IdBytes(at).SequenceEqual(id))
                {
                    duplicates.Add(at);
                    _slots[slot] = mine;
                    break;
                }
            }
        }
        return duplicates;
    }

    /// <summary>Collects entries column by column (strings interned), then builds the segment. Given the right
    /// capacity (a bank's size is known before it is read), the columns are never copied: the segment takes them.</summary>
    internal sealed class Builder(int capacity)
    {
        private readonly Dictionary<string, int> _bankIndex = new(StringComparer.Ordinal);
        private readonly StringTable _strings = new();

        public List<string> Banks { get; } = [];
        public List<string> Strings => _strings.Strings;
        public PdqHash[] Hashes = new PdqHash[capacity];
        public ushort[] Bank = new ushort[capacity];
        public byte[] Quality = new byte[capacity];
        public long[] AddedTicks = new long[capacity];
        public int[] Label = new int[capacity];
        public int[] Source = new int[capacity];
        public int[] IdStart = new int[capacity + 1];
        public byte[] Ids = new byte[(int)Math.Min(Array.MaxLength, 16L * capacity)];
        public int IdBytes;

        public int Count { get; private set; }

        /// <summary>Memory for the multi-index, faulted in while the entries are being added (used when it has room).</summary>
        public MultiIndexHashIndex.Reservation? Reserved { get; set; }

        public void Add(BankEntry entry)
        {
            int length = Encoding.UTF8.GetByteCount(entry.Id);
            Reserve(length);
            Encoding.UTF8.GetBytes(entry.Id, Ids.AsSpan(IdBytes, length));
            AddColumns(entry.Hash, entry.Bank, entry.Quality, entry.AddedAt.UtcTicks, entry.Label, entry.Source, length);
        }

        /// <summary>Copies one entry of another segment without making an object of it.</summary>
        public void Add(BankSegment from, int position)
        {
            var id = from.IdBytes(position);
            Reserve(id.Length);
            id.CopyTo(Ids.AsSpan(IdBytes));
            AddColumns(from.HashAt(position), from.BankAt(position), from._quality[position], from._addedTicks[position],
                from.StringAt(from._label[position]), from.StringAt(from._source[position]), id.Length);
        }

        /// <summary>Copies the entries of a snapshot block that <paramref name="take"/> accepts, without making an object of
        /// them (the block's strings interned once, not per entry).</summary>
        public void Add(string bank, BankSnapshotBlock block, Func<int, bool> take)
        {
            var strings = new int[block.Strings.Count];
            for (int s = 0; s < strings.Length; s++) strings[s] = Intern(block.Strings[s]);
            for (int i = 0; i < block.Count; i++)
            {
                if (!take(i)) continue;
                var id = block.IdBytesAt(i);
                Reserve(id.Length);
                id.CopyTo(Ids.AsSpan(IdBytes));
                int label = block.LabelIndexAt(i), source = block.SourceIndexAt(i);
                AddColumns(block.HashAt(i), BankIndexOf(bank), block.QualityAt(i), block.AddedTicksAt(i),
                    label < 0 ? -1 : strings[label], source < 0 ? -1 : strings[source], id.Length);
            }
        }

        // Room for one more entry and its id's bytes.
        private void Reserve(int idLength)
        {
            if ((long)IdBytes + idLength >= Array.MaxLength) throw new InvalidOperationException("the ids of one index exceed 2 GiB");
            if (IdBytes + idLength > Ids.Length) Array.Resize(ref Ids, (int)Math.Min(Array.MaxLength, Math.Max(2L * Ids.Length, IdBytes + idLength + 1024L)));
            if (Count == Hashes.Length) ResizeColumns(Math.Max(16, 2 * Hashes.Length));
        }

        private void ResizeColumns(int length)
        {
            Array.Resize(ref Hashes, length);
            Array.Resize(ref Bank, length);
            Array.Resize(ref Quality, length);
            Array.Resize(ref AddedTicks, length);
            Array.Resize(ref Label, length);
            Array.Resize(ref Source, length);
            Array.Resize(ref IdStart, length + 1);
        }

        private void AddColumns(PdqHash hash, string bank, int quality, long addedTicks, string? label, string? source, int idLength) =>
            AddColumns(hash, BankIndexOf(bank), quality, addedTicks, Intern(label), Intern(source), idLength);

        private void AddColumns(PdqHash hash, int bank, int quality, long addedTicks, int label, int source, int idLength)
        {
            Hashes[Count] = hash;
            Bank[Count] = (ushort)bank;
            Quality[Count] = (byte)Math.Clamp(quality, 0, 255);
            AddedTicks[Count] = addedTicks;
            Label[Count] = label;
            Source[Count] = source;
            IdBytes += idLength;
            IdStart[Count + 1] = IdBytes;
            Count++;
        }

        private int BankIndexOf(string bank)
        {
            if (!_bankIndex.TryGetValue(bank, out int b))
            {
                if (Banks.Count > ushort.MaxValue) throw new InvalidOperationException("more than 65,536 banks in one index");
                _bankIndex[bank] = b = Banks.Count;
                Banks.Add(bank);
            }
            return b;
        }

        private int Intern(string? value) => _strings.Intern(value);

        /// <summary>The columns cut to the entries added (no copy when the capacity was right).</summary>
        internal void Trim()
        {
            if (Hashes.Length != Count) ResizeColumns(Count);
            if (Ids.Length != IdBytes) Array.Resize(ref Ids, IdBytes);
        }

        /// <summary>Builds the segment (taking the builder's columns); <paramref name="duplicates"/> lists the positions
        /// whose bank and id a later entry repeated (hide them).</summary>
        public BankSegment Build(bool preferIndex, out List<int> duplicates)
        {
            Trim();
            var segment = Count == 0 ? new BankSegment(this, null, null)
                : preferIndex || Count > ScanLimit ? new BankSegment(this, MultiIndexHashIndex.Build(Hashes, Reserved), null)
                : new BankSegment(this, null, new BruteForceSearch(Hashes));
            Hashes = [];
            duplicates = segment.Place();
            return segment;
        }
    }
}
