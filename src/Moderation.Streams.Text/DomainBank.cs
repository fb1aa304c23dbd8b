namespace Moderation.Streams.Text;

/// <summary>
/// A <c>domains</c> bank: rows <c>domain,category[,id]</c>; an entry matches the domain and every subdomain of it.
/// Domains are canonicalised like found hosts (<see cref="LinkFinder.Canonical"/>), so <c>Bücher.Example.</c> in a
/// bank file and <c>xn--bcher-kva.example</c> in a text meet. A host matches at most once per bank, through its most
/// specific listed domain.
/// </summary>
public sealed class DomainBank
{
    private readonly Dictionary<string, DomainEntry> _byDomain;

    private DomainBank(string name, Dictionary<string, DomainEntry> byDomain)
    {
        Name = name;
        _byDomain = byDomain;
    }

    public string Name { get; }

    public IReadOnlyCollection<DomainEntry> Entries => _byDomain.Values;

    public static DomainBank Load(string name, TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var errors = new List<TextBankRowError>();
        var byDomain = new Dictionary<string, DomainEntry>(StringComparer.Ordinal);
        foreach (var (line, fields) in TextBankCsv.Rows(reader, "domain", errors))
        {
            if (fields.Count is < 2 or > 3)
            {
                errors.Add(new TextBankRowError(line, "expected domain,category[,id]"));
                continue;
            }
            string written = fields[0].Trim(), category = fields[1].Trim();
            var domain = written.Contains('/') || written.Contains(':') || written.Contains('@') ? null : LinkFinder.Canonical(written);
            if (domain is null || !domain.Contains('.'))
            {
                errors.Add(new TextBankRowError(line, $"not a domain name: '{TextBankCsv.Shown(written)}'"));
                continue;
            }
            string id = fields.Count > 2 && fields[2].Trim().Length > 0 ? fields[2].Trim() : domain;
            if (TextBankCsv.Refusal(category, id) is { } refused)
            {
                errors.Add(new TextBankRowError(line, refused));
                continue;
            }
            byDomain[domain] = new DomainEntry(domain, category, id); // a later row for the same domain wins
        }
        if (errors.Count > 0) throw new TextBankException(name, errors);
        return new DomainBank(name, byDomain);
    }

    /// <summary>The entry for <paramref name="host"/> (canonical) or its closest listed parent domain, or null.</summary>
    public DomainEntry? Lookup(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        int from = 0;
        while (true)
        {
            if (_byDomain.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(host.AsSpan(from), out var entry)) return entry;
            int dot = host.IndexOf('.', from);
            if (dot < 0) return null;
            from = dot + 1;
        }
    }

    public void Match(IReadOnlyList<FoundHost> hosts, List<TextMatch> matches)
    {
        foreach (var host in hosts)
            if (Lookup(host.Host) is { } entry)
                matches.Add(new TextMatch(TextMatchKinds.Domain, Name, entry.Id, entry.Category, host.Start, host.End));
    }
}
