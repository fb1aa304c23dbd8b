using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

public sealed class BankCsvTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_hash_verb_output_imports_as_is_with_the_path_as_id()
    {
        var line = new PdqResult(PdqHash.Parse("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"), 100).FormatLine("photos/bridge-1.jpg");
        var (entries, errors) = BankCsv.Read(new StringReader(line + "\n"), "known-bad", "hashes.csv", Now);

        Assert.Empty(errors);
        var entry = Assert.Single(entries);
        Assert.Equal(new BankEntry("known-bad", "photos/bridge-1.jpg", PdqHash.Parse("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"), 100, null, "hashes.csv", Now), entry);
    }

    [Fact]
    public void An_export_reads_back_to_the_same_entries_quotes_and_commas_included()
    {
        var random = new Random(1);
        var entries = new List<BankEntry>
        {
            new("b", "h-1", MultiIndexHashIndexTests.RandomHash(random), 87, "label, with \"quotes\"", "list \"x\"", Now),
            new("b", "id,with,commas", MultiIndexHashIndexTests.RandomHash(random), 50, null, null, Now.AddDays(-3)),
            new("b", "h-3", MultiIndexHashIndexTests.RandomHash(random), 0, "", "src", Now.AddMilliseconds(123)),
        };
        var csv = new StringWriter();
        BankCsv.Write(csv, entries);
        Assert.StartsWith(BankCsv.Header + Environment.NewLine, csv.ToString());

        var (read, errors) = BankCsv.Read(new StringReader(csv.ToString()), "b", null, DateTimeOffset.UnixEpoch);

        Assert.Empty(errors);
        Assert.Equal(entries.Select(e => e with { Label = string.IsNullOrEmpty(e.Label) ? null : e.Label }), read);
    }

    [Fact]
    public void Bad_rows_are_reported_by_line_and_minimal_rows_get_defaults()
    {
        const string hash = "0000000000000000000000000000000000000000000000000000000000000001";
        var text = $"# comment\n{hash},60\nnot-a-hash,50\n{hash},101\n{hash}\n\n{hash},70,,,,yesterday\n{hash},55,\"unterminated\n";
        var (entries, errors) = BankCsv.Read(new StringReader(text), "b", "file.csv", Now);

        var only = Assert.Single(entries);
        Assert.Equal(new BankEntry("b", hash, PdqHash.Parse(hash), 60, null, "file.csv", Now), only); // id defaults to the hash
        Assert.Equal([3, 4, 5, 7, 8], errors.Select(e => e.Line));
        Assert.Throws<ArgumentException>(() => BankCsv.Read(new StringReader(""), "bad name", null, Now));
    }
}
