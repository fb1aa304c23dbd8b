namespace Moderation.Streams.Text.Tests;

/// <summary>A term or domain bank takes a change of a few rows (what a worker reads from the store's delta records) and
/// is then the bank that loading every row again makes, while the bank before it stays as it was.</summary>
public sealed class BankChangeTests
{
    private static string Quoted(params string[] fields) => string.Join(',', fields.Select(f => "\"" + f.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));

    private static readonly string[] Texts =
    [
        "free crypto giveaway here", "wire money now", "buy oxy at bad.example", "visit shop.bad.example today", "x99y and w7x123y",
        "nothing to see", "scampi for dinner at good.example", "cheap pills from pills.example.org", "crypto", "a.b.example and c.example",
    ];

    [Fact]
    public void A_term_bank_changed_row_by_row_matches_as_one_loaded_from_every_row()
    {
        var random = new Random(31);
        string[] patterns = ["free crypto", "crypto", "wire", "oxy", "giveaway", "money now", "scam", "pills", "dinner", "w[0-9]x[0-9]+y"];
        string Row(string id) => random.Next(10) is var p && patterns[p].Contains('[')
            ? Quoted(patterns[p], "c" + random.Next(3), id, "regex")
            : Quoted(patterns[p], "c" + random.Next(3), id, random.Next(2) == 0 ? "word" : "substring");
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < 8; i++) rows[$"t{i}"] = Row($"t{i}");
        TermBank Fresh() => TermBank.Load("terms", new StringReader("pattern,category,id,mode\n" + string.Join('\n', rows.Values)));
        var bank = Fresh();
        for (int step = 0; step < 150; step++)
        {
            var change = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int n = random.Next(1, 4); n > 0; n--)
            {
                string id = $"t{random.Next(15)}";
                change[id] = random.Next(4) == 0 ? null : Row(id);
            }
            var before = Texts.Select(t => Matches(bank, t)).ToList();
            var next = bank.With(change);
            foreach (var (id, row) in change)
                if (row is null) rows.Remove(id); else rows[id] = row;
            Assert.Equal(before, Texts.Select(t => Matches(bank, t)));
            var fresh = Fresh();
            Assert.Equal(fresh.Entries, next.Entries);
            Assert.Equal(Texts.Select(t => Matches(fresh, t)), Texts.Select(t => Matches(next, t)));
            bank = next;
        }
        Assert.Throws<TextBankException>(() => bank.With(new Dictionary<string, string?> { ["t1"] = Quoted("oxy", "c", "t2", "word") }));
        Assert.Throws<TextBankException>(() => bank.With(new Dictionary<string, string?> { ["t1"] = Quoted("(a+)+$", "c", "t1", "regex") }));
    }

    [Fact]
    public void A_domain_bank_changed_row_by_row_matches_as_one_loaded_from_every_row_a_shadowed_row_included()
    {
        var random = new Random(32);
        string[] domains = ["bad.example", "shop.bad.example", "pills.example.org", "example.org", "c.example", "b.example"];
        string Row(string id) => Quoted(domains[random.Next(domains.Length)], "c" + random.Next(3), id);
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < 6; i++) rows[$"d{i}"] = Row($"d{i}");
        DomainBank Fresh() => DomainBank.Load("links", new StringReader("domain,category,id\n" + string.Join('\n', rows.Values)));
        var bank = Fresh();
        for (int step = 0; step < 150; step++)
        {
            var change = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int n = random.Next(1, 4); n > 0; n--)
            {
                string id = $"d{random.Next(12)}";
                // Several ids list the same domain: removing the one that wins brings back the one it shadowed.
                change[id] = random.Next(4) == 0 ? null : Row(id);
            }
            var before = Texts.Select(t => Matches(bank, t)).ToList();
            var next = bank.With(change);
            foreach (var (id, row) in change)
                if (row is null) rows.Remove(id); else rows[id] = row;
            Assert.Equal(before, Texts.Select(t => Matches(bank, t)));
            var fresh = Fresh();
            Assert.Equal(fresh.Entries, next.Entries);
            Assert.Equal(Texts.Select(t => Matches(fresh, t)), Texts.Select(t => Matches(next, t)));
            bank = next;
        }
        Assert.Throws<TextBankException>(() => bank.With(new Dictionary<string, string?> { ["d1"] = Quoted("not a domain", "c", "d1") }));
    }

    private static List<TextMatch> Matches(TermBank bank, string text) => [.. Banks.Match(text, terms: bank)];

    private static List<TextMatch> Matches(DomainBank bank, string text) => [.. Banks.Match(text, domains: bank)];
}
