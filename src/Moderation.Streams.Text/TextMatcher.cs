namespace Moderation.Streams.Text;

/// <summary>
/// Checks texts against term and domain banks: normalises each text once (<see cref="NormalizedText"/>), finds its
/// hosts once (<see cref="LinkFinder"/>), and returns every match ordered by position, then kind, bank and id.
/// Thread-safe once built (the banks are read-only).
/// </summary>
public sealed class TextMatcher(IReadOnlyList<TermBank> terms, IReadOnlyList<DomainBank> domains)
{
    /// <summary>How many banks it matches against (none: it can screen nothing).</summary>
    public int BankCount => terms.Count + domains.Count;

    public IReadOnlyList<TextMatch> Match(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = new List<TextMatch>();
        if (terms.Count > 0)
        {
            var normal = NormalizedText.Create(text);
            foreach (var bank in terms) bank.Match(normal, matches);
        }
        if (domains.Count > 0)
        {
            var hosts = LinkFinder.Find(text);
            foreach (var bank in domains) bank.Match(hosts, matches);
        }
        return [.. matches.Distinct()
            .OrderBy(m => m.Start).ThenBy(m => m.End)
            .ThenBy(m => m.Kind, StringComparer.Ordinal).ThenBy(m => m.Bank, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal)];
    }
}
