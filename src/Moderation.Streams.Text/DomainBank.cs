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
    // Every row, in the bank's order (a row whose domain a later row lists too is here, not in _byDomain): what a change
    // keeps of the bank.
    private readonly IReadOnlyList<DomainEntry> _rows;

    private DomainBank(string name, List<DomainEntry> rows)
    {
        Name = name;
        _rows = rows;
        _byDomain = new Dictionary<string, DomainEntry>(rows.Count, StringComparer.Ordinal);
        foreach (var entry in rows) _byDomain[entry.Domain] = entry; // a later row for the same domain wins
    }

    public string Name { get; }

    public IReadOnlyCollection<DomainEntry> Entries => _byDomain.Values;

    public static DomainBank Load(string name, TextReader reader) => new(name, Parse(name, reader));

    /// <summary>This bank with the rows of <paramref name="rows"/> changed (id → the row as a bank file has it, its id
    /// given; null: removed), ordered by id as a bank read from the store is: the same bank as loading every row again,
    /// parsing only the rows given. This bank is not changed.</summary>
    /// <exception cref="TextBankException">A row is refused, or does not hold the id it is given under.</exception>
    /// <exception cref="InvalidOperationException">This bank holds an id twice (a file, not a stored bank).</exception>
    public DomainBank With(IReadOnlyDictionary<string, string?> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var byId = new Dictionary<string, DomainEntry>(_rows.Count + rows.Count, StringComparer.Ordinal);
        foreach (var entry in _rows)
            if (!byId.TryAdd(entry.Id, entry)) throw new InvalidOperationException($"bank {Name} holds id '{TextBankCsv.Shown(entry.Id)}' twice");
        var given = rows.Where(r => r.Value is not null).ToList();
        var parsed = Parse(Name, new StringReader("domain,category,id\n" + string.Join('\n', given.Select(r => r.Value))));
        if (parsed.Count != given.Count) throw new TextBankException(Name, [new TextBankRowError(0, $"{given.Count} rows given, {parsed.Count} read")]);
        for (int i = 0; i < given.Count; i++)
            if (parsed[i].Id != given[i].Key)
                throw new TextBankException(Name, [new TextBankRowError(i + 2, $"row of id '{TextBankCsv.Shown(parsed[i].Id)}' given as '{TextBankCsv.Shown(given[i].Key)}'")]);
        foreach (var (id, row) in rows)
            if (row is null) byId.Remove(id);
        foreach (var entry in parsed) byId[entry.Id] = entry;
        return new DomainBank(Name, [.. byId.Values.OrderBy(e => e.Id, StringComparer.Ordinal)]);
    }

    private static List<DomainEntry> Parse(string name, TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var errors = new List<TextBankRowError>();
        var rows = new List<DomainEntry>();
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
            rows.Add(new DomainEntry(domain, category, id));
        }
        if (errors.Count > 0) throw new TextBankException(name, errors);
        return rows;
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
