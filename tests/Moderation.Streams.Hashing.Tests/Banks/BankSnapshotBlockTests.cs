using System.Buffers.Binary;
using System.IO.Hashing;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

public sealed class BankSnapshotBlockTests
{
    private static List<BankEntry> Entries(int count, int seed)
    {
        var random = new Random(seed);
        string[] labels = ["csam", "terror, \"list\"", "ünïcode"];
        return [.. Enumerable.Range(0, count).Select(i => new BankEntry("bank", i % 97 == 0 ? $"日本-{i}-🙂" : $"id-{i}", MultiIndexHashIndexTests.RandomHash(random),
            i % 101, i % 4 == 0 ? null : labels[i % labels.Length], i % 5 == 0 ? null : $"source-{i % 3}",
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(i * 12_345_678L)))];
    }

    private static byte[] Encode(IEnumerable<BankEntry> entries)
    {
        var writer = new BankSnapshotBlock.Writer();
        foreach (var e in entries) writer.Add(e);
        return writer.Encode();
    }

    // Rewrites the checksum after a deliberate change to the payload, so the decoder's other checks are reached.
    private static byte[] Resealed(byte[] block)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(16), XxHash3.HashToUInt64(block.AsSpan(BankSnapshotBlock.HeaderBytes)));
        return block;
    }

    [Fact]
    public void Entries_come_back_exactly_as_written()
    {
        var entries = Entries(3000, seed: 1);
        var block = BankSnapshotBlock.Decode(Encode(entries));

        Assert.Equal(entries.Count, block.Count);
        Assert.Equal(entries, Enumerable.Range(0, block.Count).Select(i => block.EntryAt("bank", i)));
        // Strings are kept once per block.
        Assert.Equal(6, block.Strings.Count);
    }

    [Fact]
    public void The_writer_is_empty_after_encoding_and_refuses_more_than_a_block()
    {
        var writer = new BankSnapshotBlock.Writer();
        foreach (var e in Entries(10, seed: 2)) writer.Add(e);
        var first = writer.Encode();
        Assert.Equal(0, writer.Count);
        writer.Add(Entries(1, seed: 3)[0]);
        Assert.Equal(1, BankSnapshotBlock.Decode(writer.Encode()).Count);
        Assert.Equal(10, BankSnapshotBlock.Decode(first).Count);
        Assert.Equal(0, BankSnapshotBlock.Decode(writer.Encode()).Count);

        var entry = Entries(1, seed: 4)[0];
        for (int i = 0; i < BankSnapshotBlock.MaxEntries; i++) writer.Add(entry with { Id = $"e{i}" });
        Assert.True(writer.IsFull);
        Assert.Throws<InvalidOperationException>(() => writer.Add(entry));
        Assert.Throws<ArgumentException>(() => new BankSnapshotBlock.Writer().Add(entry with { Id = "" }));
    }

    [Fact]
    public void Any_flipped_bit_is_caught_by_the_checksum()
    {
        var bytes = Encode(Entries(200, seed: 5));
        var random = new Random(6);
        for (int trial = 0; trial < 50; trial++)
        {
            var damaged = (byte[])bytes.Clone();
            int at = random.Next(BankSnapshotBlock.HeaderBytes, damaged.Length);
            damaged[at] ^= (byte)(1 << random.Next(8));
            var e = Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(damaged));
            Assert.Contains("checksum", e.Message);
        }
    }

    [Fact]
    public void Headers_that_do_not_describe_the_block_are_refused()
    {
        var bytes = Encode(Entries(20, seed: 7));
        Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(bytes.AsMemory(0, 10)));
        Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(bytes.AsMemory(0, bytes.Length - 1)));

        var magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        Assert.Contains("not a bank snapshot", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(magic)).Message);

        var format = (byte[])bytes.Clone();
        format[4] = 2;
        Assert.Contains("format 2", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(format)).Message);

        var huge = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(huge.AsSpan(8), BankSnapshotBlock.MaxEntries + 1);
        Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(huge));

        // A count that disagrees with the columns, checksum intact: the columns run out (or are left over).
        var fewer = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(fewer.AsSpan(8), 25);
        Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(Resealed(fewer)));
    }

    [Fact]
    public void Columns_that_point_outside_the_block_are_refused_even_with_a_good_checksum()
    {
        var entries = Entries(3, seed: 8).Select(e => e with { Label = "l", Source = null, Id = "ab" }).ToList();
        var bytes = Encode(entries);
        // Payload: strings (count 1, "l"), 3 hashes, 3 qualities, 3 ticks, 3 labels, 3 sources, 3 id ends, 6 id bytes.
        int labels = BankSnapshotBlock.HeaderBytes + 4 + 4 + 1 + 3 * 32 + 3 + 3 * 8;
        var badLabel = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(badLabel.AsSpan(labels), 7);
        Assert.Contains("string index", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(Resealed(badLabel))).Message);

        int idEnds = labels + 3 * 4 + 3 * 4;
        var badEnd = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(badEnd.AsSpan(idEnds), 5); // 5, 4, 6: out of order
        Assert.Contains("offsets", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(Resealed(badEnd))).Message);

        var notUtf8 = (byte[])bytes.Clone();
        notUtf8[^1] = 0xFF;
        Assert.Contains("UTF-8", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(Resealed(notUtf8))).Message);

        int ticks = BankSnapshotBlock.HeaderBytes + 4 + 4 + 1 + 3 * 32 + 3;
        var badTicks = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(badTicks.AsSpan(ticks), -1);
        Assert.Contains("added_at", Assert.Throws<InvalidDataException>(() => BankSnapshotBlock.Decode(Resealed(badTicks))).Message);
    }

    [Fact]
    public void A_loader_takes_a_block_less_its_skipped_entries_and_keeps_low_quality_ones_unsearched()
    {
        var entries = Entries(6000, seed: 9);
        var block = BankSnapshotBlock.Decode(Encode(entries));
        var changed = new HashSet<string>(StringComparer.Ordinal) { "id-1", "id-50", "日本-97-🙂", "not-in-the-block" };
        block.Skip(changed);
        Assert.Equal(3, block.SkippedCount);
        Assert.True(block.IsSkipped(97));
        Assert.False(block.IsSkipped(2));

        var live = new LiveBankIndex(BankMatchOptions.Default with { Dihedral = false });
        var loader = live.BeginLoad("bank", entries.Count);
        loader.Add(block);
        var replaced = entries[50] with { Hash = MultiIndexHashIndexTests.RandomHash(new Random(10)) };
        loader.Add(replaced);
        loader.Complete();
        var index = live.Publish();

        Assert.Equal(entries.Count - 2, live.CountOf("bank"));
        Assert.Null(live.Find("bank", "id-1"));
        Assert.Null(live.Find("bank", "日本-97-🙂"));
        Assert.Equal(replaced, live.Find("bank", "id-50"));
        Assert.Equal(entries[3], live.Find("bank", "id-3"));
        int min = BankMatchOptions.Default.MinQuality;
        var searched = entries.Where(e => e.Quality >= min && e.Id is not ("id-1" or "id-50" or "日本-97-🙂")).ToList();
        Assert.Equal(searched.Count + 1, index.Count);
        var found = searched.Take(100).ToList();
        Assert.Equal(found.Select(e => e.Id), found.Select(e => index.FindBest(e.Hash, 100)?.Id));
        var low = entries.First(e => e.Quality < min && e.Id != "id-1");
        Assert.Equal(low, live.Find("bank", low.Id)); // held, not searched
        Assert.Null(index.FindBest(low.Hash, 100));
    }
}
