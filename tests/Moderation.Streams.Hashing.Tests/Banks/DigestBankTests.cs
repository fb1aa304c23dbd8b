using System.Security.Cryptography;
using System.Text;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>Exact file-hash banks (issue 22, item 6): MD5 and SHA-256 lists in the project's, HMA's and ThreatExchange's
/// CSV layouts, and the index that matches the very same bytes and nothing else.</summary>
public sealed class DigestBankTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 21, 0, 0, TimeSpan.Zero);
    private static readonly byte[] File1 = Encoding.ASCII.GetBytes("known bad file one");
    private static readonly byte[] File2 = Encoding.ASCII.GetBytes("known bad file two");

#pragma warning disable CA5351 // the lists are in MD5
    private static string Md5(byte[] b) => Convert.ToHexStringLower(MD5.HashData(b));
#pragma warning restore CA5351
    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private static BankCsv.ReadResult<DigestEntry> Read(string csv, string kind) => DigestCsv.Read(new StringReader(csv), "exact", kind, "list.csv", Now);

    [Fact]
    public void Own_rows_read_with_ids_labels_sources_and_times_and_export_reads_back()
    {
        var read = Read($"{Sha(File1).ToUpperInvariant()},n-1,csam,ncmec,2026-01-02T03:04:05Z\n{Sha(File2)}\n", DigestKinds.Sha256);
        Assert.Empty(read.Errors);
        Assert.Equal(
        [
            new DigestEntry("exact", "sha256", "n-1", Sha(File1), "csam", "ncmec", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)),
            new DigestEntry("exact", "sha256", Sha(File2), Sha(File2), null, "list.csv", Now), // the id defaults to the digest
        ], read.Entries);

        var csv = new StringWriter();
        DigestCsv.Write(csv, read.Entries);
        Assert.StartsWith(DigestCsv.Header + Environment.NewLine, csv.ToString(), StringComparison.Ordinal);
        var back = Read(csv.ToString(), DigestKinds.Sha256);
        Assert.Equal((BankCsvLayout.Moderation, true), (back.Layout!.Format, back.Layout.HasHeader));
        Assert.Equal(read.Entries, back.Entries);
    }

    [Fact]
    public void Hma_exports_give_their_md5_rows_and_threatexchange_dumps_read()
    {
        var hma = Read($"""
            bank_name,content_id,signal_type,signal
            LIST,1,video_md5,{Md5(File1)}
            LIST,2,pdq,acecf3355e3125c8e24e2f30e0d4ec4f8482b878b3c34cdbdf063278db275992
            LIST,3,photo_md5,{Md5(File2)}
            """, DigestKinds.Md5);
        Assert.Empty(hma.Errors);
        Assert.Equal(1, hma.SkippedOtherSignalTypes);
        Assert.Equal([("1", Md5(File1), "LIST"), ("3", Md5(File2), "LIST")], hma.Entries.Select(e => (e.Id, e.Digest, e.Source)));

        // As facebook/ThreatExchange's hma-lite sample_data/photo_md5.csv: digest, indicator id, added_on, tags.
        var dump = Read($"{Md5(File1)},3085044528211555,2020-07-31T20:23:47+0000,media_type_photo disputed\n", DigestKinds.Md5);
        var entry = Assert.Single(dump.Entries);
        Assert.Equal(("3085044528211555", "media_type_photo disputed", new DateTimeOffset(2020, 7, 31, 20, 23, 47, TimeSpan.Zero)), (entry.Id, entry.Label, entry.AddedAt));
        Assert.Equal(BankCsvLayout.ThreatExchange, dump.Layout!.Format);
    }

    [Fact]
    public void A_digest_of_the_wrong_kind_or_length_is_refused_by_line_and_an_unknown_header_whole()
    {
        var read = Read($"{Md5(File1)},a\n{Sha(File1)},b\nxyz,c\n", DigestKinds.Sha256);
        Assert.Equal(["b"], read.Entries.Select(e => e.Id));
        Assert.Equal([1, 3], read.Errors.Select(e => e.Line));
        Assert.Contains("not a 64-hex-digit sha256 digest", read.Errors[0].Message, StringComparison.Ordinal);
        Assert.Throws<BankCsvHeaderException>(() => Read("pdq,label\nx,y\n", DigestKinds.Md5));
        Assert.Throws<ArgumentException>(() => Read("", "sha1"));
    }

    [Fact]
    public void The_index_matches_the_same_bytes_in_every_bank_once_and_a_one_byte_change_escapes()
    {
        DigestEntry[] entries =
        [
            new DigestEntry("a", DigestKinds.Sha256, "a-1", Sha(File1), null, null, Now),
            new DigestEntry("a", DigestKinds.Md5, "a-2", Md5(File1), null, null, Now), // same file, same bank: one hit
            new DigestEntry("b", DigestKinds.Md5, "b-1", Md5(File1), "l", "s", Now),
            new DigestEntry("b", DigestKinds.Md5, "b-2", Md5(File2), null, null, Now),
        ];
        var index = new DigestIndex(entries);
        Assert.Equal((true, true, 4), (index.HasMd5, index.HasSha256, index.Count));
        Assert.Equal([("a", "a-1"), ("b", "b-1")], index.Match(File1).Select(e => (e.Bank, e.Id)));
        Assert.Equal([("b", "b-2")], index.Match(File2).Select(e => (e.Bank, e.Id)));
        var changed = (byte[])File1.Clone();
        changed[^1] ^= 1;
        Assert.Empty(index.Match(changed));
        Assert.Empty(DigestIndex.Empty.Match(File1));
        Assert.False(DigestIndex.Empty.HasMd5 || DigestIndex.Empty.HasSha256);
        Assert.Equal(Md5(File1), DigestKinds.Compute(DigestKinds.Md5, File1));

        // Built per bank and joined: the same answers as one index over every entry.
        var joined = DigestIndex.Combine([new DigestIndex(entries.Where(e => e.Bank == "a")), DigestIndex.Empty, new DigestIndex(entries.Where(e => e.Bank == "b"))]);
        Assert.Equal((true, true, 4), (joined.HasMd5, joined.HasSha256, joined.Count));
        foreach (var file in new[] { File1, File2, changed })
            Assert.Equal(index.Match(file), joined.Match(file));
        var md5Only = DigestIndex.Combine([new DigestIndex(entries.Where(e => e.Bank == "b"))]);
        Assert.Equal((true, false), (md5Only.HasMd5, md5Only.HasSha256));
        Assert.False(DigestIndex.Combine([]).HasMd5);
        Assert.Equal(Sha(File1), DigestKinds.Compute(DigestKinds.Sha256, File1));
    }

    [Fact]
    public void A_bank_index_changed_entry_by_entry_answers_as_one_built_afresh_and_the_index_before_never_changes()
    {
        var random = new Random(22);
        var files = Enumerable.Range(0, 30).Select(i => Encoding.ASCII.GetBytes($"file {i}")).ToArray();
        DigestEntry Entry(string id, int file, string kind) =>
            new("r", kind, id, kind == DigestKinds.Md5 ? Md5(files[file]) : Sha(files[file]), $"label {random.Next(3)}", null, Now);
        var model = new Dictionary<string, DigestEntry>(StringComparer.Ordinal);
        for (int i = 0; i < 20; i++) model[$"r-{i}"] = Entry($"r-{i}", random.Next(files.Length), DigestKinds.Sha256);
        var index = new DigestIndex(model.Values);
        for (int step = 0; step < 400; step++)
        {
            var change = new Dictionary<string, DigestEntry?>(StringComparer.Ordinal);
            for (int n = random.Next(1, 6); n > 0; n--)
            {
                string id = $"r-{random.Next(40)}";
                // Added, replaced (another file, another kind or only another label), removed, or removed when absent.
                change[id] = random.Next(4) == 0 ? null : Entry(id, random.Next(files.Length), random.Next(3) == 0 ? DigestKinds.Md5 : DigestKinds.Sha256);
            }
            var before = files.Select(f => index.Match(f)).ToList();
            var next = index.With("r", change);
            foreach (var (id, entry) in change)
                if (entry is null) model.Remove(id); else model[id] = entry;
            Assert.Equal(before, files.Select(f => index.Match(f))); // readers of the old index see it as it was
            AssertSameAsBuilt(next, model.Values);
            index = next;
        }
        Assert.True(index.OverlayCount > 0);

        // Past an eighth of the bank (and MinOverlayBeforeRebuild) the tables are built again, from the entries as they are.
        var many = Enumerable.Range(0, DigestIndex.MinOverlayBeforeRebuild + 1).ToDictionary(i => $"m-{i}", i => (DigestEntry?)Entry($"m-{i}", i % files.Length, DigestKinds.Md5), StringComparer.Ordinal);
        index = index.With("r", many);
        foreach (var (id, entry) in many) model[id] = entry!;
        Assert.Equal(0, index.OverlayCount);
        AssertSameAsBuilt(index, model.Values);

        Assert.Throws<InvalidOperationException>(() => DigestIndex.Combine([index, new DigestIndex([Entry("x", 0, DigestKinds.Md5) with { Bank = "x" }])]).With("r", new Dictionary<string, DigestEntry?>()));
        Assert.Throws<InvalidOperationException>(() => index.With("other", new Dictionary<string, DigestEntry?>()));
        Assert.Throws<ArgumentException>(() => index.With("r", new Dictionary<string, DigestEntry?> { ["r-1"] = Entry("r-2", 0, DigestKinds.Md5) }));
        Assert.Equal("r-1", Assert.Single(DigestIndex.Empty.With("r", new Dictionary<string, DigestEntry?> { ["r-1"] = Entry("r-1", 0, DigestKinds.Md5) }).Match(files[0])).Id);

        void AssertSameAsBuilt(DigestIndex changed, IEnumerable<DigestEntry> entries)
        {
            var built = new DigestIndex(entries);
            Assert.Equal((built.Count, built.HasMd5, built.HasSha256), (changed.Count, changed.HasMd5, changed.HasSha256));
            foreach (var file in files) Assert.Equal(built.Match(file), changed.Match(file));
            Assert.Equal(entries.OrderBy(e => e.Id, StringComparer.Ordinal), changed.Entries.OrderBy(e => e.Id, StringComparer.Ordinal));
        }
    }
}
