using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// One block of a bank snapshot: up to <see cref="MaxEntries"/> entries of one bank, by column, in a binary form a
/// worker copies into its index without parsing text or making an object per entry. Each block carries its own table
/// of label and source strings and a checksum, so blocks are decoded independently (in parallel) and a damaged one is
/// refused, never half-read.
/// </summary>
/// <remarks>
/// Layout, little-endian: <c>MSBB</c>, format 1, 3 bytes zero, entry count (int32), payload length (int32), XxHash3
/// of the payload (uint64); then the payload: string count (int32) and each string (int32 byte length, UTF-8); the
/// hashes (32 bytes each: PDQ's four 64-bit words); qualities (1 byte each); added_at (int64 UTC ticks each); label and
/// source (int32 string index each, -1 for none); the end offset of each id in the id bytes (int32 each); the id bytes
/// (UTF-8). About 57 bytes plus the id per entry.
/// </remarks>
public sealed class BankSnapshotBlock : IDisposable
{
    /// <summary>Entries per block (a block of 64K entries with 20-byte ids is ~5 MiB).</summary>
    public const int MaxEntries = 65_536;

    /// <summary>Bytes of the header before the payload.</summary>
    public const int HeaderBytes = 24;

    private const byte Format = 1;
    private static ReadOnlySpan<byte> Magic => "MSBB"u8;

    // The block as read (columns are read in place, never copied out), and whoever lends its memory.
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly IDisposable? _owner;
    private readonly int _hashesAt, _qualityAt, _ticksAt, _labelAt, _sourceAt, _idEndAt, _idsAt;
    private readonly string[] _strings;
    private bool[]? _skipped;

    private BankSnapshotBlock(ReadOnlyMemory<byte> bytes, IDisposable? owner, int count, string[] strings, int hashesAt)
    {
        _bytes = bytes;
        _owner = owner;
        Count = count;
        _strings = strings;
        _hashesAt = hashesAt;
        _qualityAt = hashesAt + 32 * count;
        _ticksAt = _qualityAt + count;
        _labelAt = _ticksAt + 8 * count;
        _sourceAt = _labelAt + 4 * count;
        _idEndAt = _sourceAt + 4 * count;
        _idsAt = _idEndAt + 4 * count;
    }

    /// <summary>Entries in the block (skipped ones included).</summary>
    public int Count { get; }

    /// <summary>Entries marked by <see cref="Skip"/>.</summary>
    public int SkippedCount { get; private set; }

    private ReadOnlySpan<byte> Bytes => _bytes.Span;

    public PdqHash HashAt(int i)
    {
        var h = Bytes.Slice(_hashesAt + 32 * i, 32);
        return new PdqHash(BinaryPrimitives.ReadUInt64LittleEndian(h), BinaryPrimitives.ReadUInt64LittleEndian(h[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(h[16..]), BinaryPrimitives.ReadUInt64LittleEndian(h[24..]));
    }

    public int QualityAt(int i) => Bytes[_qualityAt + i];

    public long AddedTicksAt(int i) => BinaryPrimitives.ReadInt64LittleEndian(Bytes[(_ticksAt + 8 * i)..]);

    /// <summary>The block's label and source strings (what <see cref="LabelIndexAt"/> and <see cref="SourceIndexAt"/> index).</summary>
    public IReadOnlyList<string> Strings => _strings;

    /// <summary>Index of the entry's label in <see cref="Strings"/>, -1 for none.</summary>
    public int LabelIndexAt(int i) => BinaryPrimitives.ReadInt32LittleEndian(Bytes[(_labelAt + 4 * i)..]);

    /// <summary>Index of the entry's source in <see cref="Strings"/>, -1 for none.</summary>
    public int SourceIndexAt(int i) => BinaryPrimitives.ReadInt32LittleEndian(Bytes[(_sourceAt + 4 * i)..]);

    public string? LabelAt(int i) => LabelIndexAt(i) is var l and >= 0 ? _strings[l] : null;

    public string? SourceAt(int i) => SourceIndexAt(i) is var s and >= 0 ? _strings[s] : null;

    /// <summary>The id's UTF-8 bytes (as the index holds ids).</summary>
    public ReadOnlySpan<byte> IdBytesAt(int i)
    {
        int from = i == 0 ? 0 : IdEnd(i - 1);
        return Bytes.Slice(_idsAt + from, IdEnd(i) - from);
    }

    private int IdEnd(int i) => BinaryPrimitives.ReadInt32LittleEndian(Bytes[(_idEndAt + 4 * i)..]);

    public string IdAt(int i) => Encoding.UTF8.GetString(IdBytesAt(i));

    /// <summary>Whether <see cref="Skip"/> marked the entry.</summary>
    public bool IsSkipped(int i) => _skipped is { } s && s[i];

    /// <summary>The entry as an object (for the few that need one).</summary>
    public BankEntry EntryAt(string bank, int i) =>
        new(bank, IdAt(i), HashAt(i), QualityAt(i), LabelAt(i), SourceAt(i), new DateTimeOffset(AddedTicksAt(i), TimeSpan.Zero));

    /// <summary>Marks the entries whose id is in <paramref name="ids"/> (changed since the snapshot: their current
    /// state is read separately), comparing without making a string per entry.</summary>
    public void Skip(HashSet<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) return;
        var lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[256];
        for (int i = 0; i < Count; i++)
        {
            var bytes = IdBytesAt(i);
            var chars = bytes.Length <= buffer.Length ? buffer : new char[bytes.Length];
            int n = Encoding.UTF8.GetChars(bytes, chars);
            if (!lookup.Contains(chars[..n])) continue;
            (_skipped ??= new bool[Count])[i] = true;
            SkippedCount++;
        }
    }

    /// <summary>Gives the block's memory back to its owner (the block is not read after).</summary>
    public void Dispose() => _owner?.Dispose();

    /// <summary>Reads a block, checking everything a reader relies on; the columns stay in <paramref name="bytes"/>
    /// (not copied), lent by <paramref name="owner"/> until <see cref="Dispose"/>.</summary>
    /// <exception cref="InvalidDataException">Not a block, a checksum that does not match, or inconsistent columns.</exception>
    public static BankSnapshotBlock Decode(ReadOnlyMemory<byte> bytes, IDisposable? owner = null)
    {
        var span = bytes.Span;
        if (span.Length < HeaderBytes || !span[..4].SequenceEqual(Magic)) throw new InvalidDataException("not a bank snapshot block");
        if (span[4] != Format) throw new InvalidDataException($"bank snapshot block format {span[4]} (this version reads {Format})");
        int count = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        int length = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]);
        if (count is < 0 or > MaxEntries) throw new InvalidDataException($"bank snapshot block of {count} entries (at most {MaxEntries})");
        if (length != span.Length - HeaderBytes) throw new InvalidDataException($"bank snapshot block payload of {span.Length - HeaderBytes} bytes, header says {length}");
        if (XxHash3.HashToUInt64(span[HeaderBytes..]) != checksum) throw new InvalidDataException("bank snapshot block checksum does not match (damaged)");

        var reader = new SpanReader(span, HeaderBytes);
        int stringCount = reader.Int32();
        if (stringCount < 0 || stringCount > 2 * count) throw new InvalidDataException($"bank snapshot block with {stringCount} strings for {count} entries");
        var strings = new string[stringCount];
        for (int s = 0; s < stringCount; s++)
        {
            var utf8 = reader.Bytes(reader.Int32());
            if (!Utf8.IsValid(utf8)) throw new InvalidDataException("bank snapshot block string is not UTF-8");
            strings[s] = Encoding.UTF8.GetString(utf8);
        }
        int hashesAt = reader.At;
        reader.Bytes(32L * count);
        reader.Bytes(count);
        var ticks = reader.Bytes(8L * count);
        for (int i = 0; i < count; i++)
            if (BinaryPrimitives.ReadInt64LittleEndian(ticks[(8 * i)..]) is var t && (t < 0 || t > DateTimeOffset.MaxValue.UtcTicks))
                throw new InvalidDataException("bank snapshot block added_at out of range");
        var indexes = reader.Bytes(8L * count); // labels, then sources
        for (int i = 0; i < 2 * count; i++)
            if (BinaryPrimitives.ReadInt32LittleEndian(indexes[(4 * i)..]) is var index && (index < -1 || index >= stringCount))
                throw new InvalidDataException("bank snapshot block string index out of range");
        var idEnds = reader.Bytes(4L * count);
        var ids = reader.Bytes(reader.Remaining);
        int previous = 0;
        for (int i = 0; i < count; i++)
        {
            int end = BinaryPrimitives.ReadInt32LittleEndian(idEnds[(4 * i)..]);
            if (end < previous || end > ids.Length) throw new InvalidDataException("bank snapshot block id offsets out of order");
            if (end == previous || !Utf8.IsValid(ids[previous..end])) throw new InvalidDataException("bank snapshot block id empty or not UTF-8");
            previous = end;
        }
        if (previous != ids.Length) throw new InvalidDataException("bank snapshot block id bytes do not end with the last id");
        return new BankSnapshotBlock(bytes, owner, count, strings, hashesAt);
    }

    /// <summary>Collects entries and encodes them a block at a time (one writer, not thread-safe).</summary>
    public sealed class Writer
    {
        private readonly List<PdqHash> _hashes = [];
        private readonly List<byte> _quality = [];
        private readonly List<long> _addedTicks = [];
        private readonly List<int> _label = [];
        private readonly List<int> _source = [];
        private readonly List<int> _idEnd = [];
        private readonly MemoryStream _ids = new();
        private readonly StringTable _strings = new();

        /// <summary>Entries waiting for the next <see cref="Encode"/>.</summary>
        public int Count => _hashes.Count;

        /// <summary>The block is full: encode it before adding more.</summary>
        public bool IsFull => Count >= MaxEntries;

        public void Add(BankEntry entry)
        {
            ArgumentNullException.ThrowIfNull(entry);
            if (IsFull) throw new InvalidOperationException("the block is full: encode it first");
            if (entry.Id.Length == 0) throw new ArgumentException("an entry without an id", nameof(entry));
            _hashes.Add(entry.Hash);
            _quality.Add((byte)Math.Clamp(entry.Quality, 0, 255));
            _addedTicks.Add(entry.AddedAt.UtcTicks);
            _label.Add(_strings.Intern(entry.Label));
            _source.Add(_strings.Intern(entry.Source));
            _ids.Write(Encoding.UTF8.GetBytes(entry.Id));
            _idEnd.Add(checked((int)_ids.Length));
        }

        /// <summary>The entries added since the last call as one block; the writer is empty again.</summary>
        public byte[] Encode()
        {
            int count = Count;
            var stringBytes = _strings.Strings.Select(Encoding.UTF8.GetBytes).ToList();
            long payload = 4 + stringBytes.Sum(s => 4L + s.Length) + count * (32L + 1 + 8 + 4 + 4 + 4) + _ids.Length;
            var block = new byte[checked(HeaderBytes + (int)payload)];
            var span = block.AsSpan();
            Magic.CopyTo(span);
            span[4] = Format;
            BinaryPrimitives.WriteInt32LittleEndian(span[8..], count);
            BinaryPrimitives.WriteInt32LittleEndian(span[12..], (int)payload);
            int at = HeaderBytes;
            Put(span, ref at, _strings.Strings.Count);
            foreach (var s in stringBytes)
            {
                Put(span, ref at, s.Length);
                s.CopyTo(span[at..]);
                at += s.Length;
            }
            foreach (var hash in _hashes)
                for (int w = 0; w < 4; w++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(span[at..], hash.GetWord(w));
                    at += 8;
                }
            CollectionsMarshal.AsSpan(_quality).CopyTo(span[at..]);
            at += count;
            foreach (long ticks in _addedTicks)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[at..], ticks);
                at += 8;
            }
            foreach (int v in _label) Put(span, ref at, v);
            foreach (int v in _source) Put(span, ref at, v);
            foreach (int v in _idEnd) Put(span, ref at, v);
            _ids.GetBuffer().AsSpan(0, (int)_ids.Length).CopyTo(span[at..]);
            at += (int)_ids.Length;
            if (at != block.Length) throw new InvalidOperationException("bank snapshot block size miscounted");
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], XxHash3.HashToUInt64(span[HeaderBytes..]));
            Clear();
            return block;
        }

        private void Clear()
        {
            _hashes.Clear();
            _quality.Clear();
            _addedTicks.Clear();
            _label.Clear();
            _source.Clear();
            _idEnd.Clear();
            _ids.SetLength(0);
            _strings.Clear();
        }

        private static void Put(Span<byte> span, ref int at, int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], value);
            at += 4;
        }
    }

    // Reads a block front to back; running past its end is a damaged block, not an exception of the runtime's.
    private ref struct SpanReader(ReadOnlySpan<byte> span, int at)
    {
        private readonly ReadOnlySpan<byte> _span = span;

        public int At { get; private set; } = at;

        public readonly int Remaining => _span.Length - At;

        public ReadOnlySpan<byte> Bytes(long length)
        {
            if (length < 0 || length > Remaining) throw new InvalidDataException("bank snapshot block shorter than its columns");
            var bytes = _span.Slice(At, (int)length);
            At += (int)length;
            return bytes;
        }

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));
    }
}
