using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Text;

/// <summary>
/// Checks texts against term, domain and meaning banks: normalises each text once (<see cref="NormalizedText"/>), finds
/// its hosts once (<see cref="LinkFinder"/>), embeds it once when a meaning bank exists (through the embedder, which
/// batches), and returns every match ordered by position, then kind, bank and id. Thread-safe once built (the banks are
/// read-only).
/// </summary>
public sealed class TextMatcher
{
    private readonly IReadOnlyList<TermBank> _terms;
    private readonly IReadOnlyList<DomainBank> _domains;
    private readonly IReadOnlyList<MeaningBank> _meanings;
    private readonly ITextEmbedder? _embedder;

    public TextMatcher(IReadOnlyList<TermBank> terms, IReadOnlyList<DomainBank> domains)
        : this(terms, domains, [], null)
    {
    }

    /// <param name="embedder">Embeds the texts to check; required when <paramref name="meanings"/> has a bank.</param>
    public TextMatcher(IReadOnlyList<TermBank> terms, IReadOnlyList<DomainBank> domains, IReadOnlyList<MeaningBank> meanings, ITextEmbedder? embedder)
    {
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentNullException.ThrowIfNull(domains);
        ArgumentNullException.ThrowIfNull(meanings);
        if (meanings.Count > 0 && embedder is null) throw new ArgumentException("meaning banks need an embedder", nameof(embedder));
        _terms = terms;
        _domains = domains;
        _meanings = meanings;
        _embedder = embedder;
    }

    /// <summary>How many banks it matches against (none: it can screen nothing).</summary>
    public int BankCount => _terms.Count + _domains.Count + _meanings.Count;

    public IReadOnlyList<MeaningBank> MeaningBanks => _meanings;

    /// <summary>True when matching needs the embedder (<see cref="MatchAsync"/>).</summary>
    public bool HasMeaningBanks => _meanings.Count > 0;

    /// <summary>Term and domain matches only (synchronous); <see cref="MatchAsync"/> adds the meaning banks.</summary>
    public IReadOnlyList<TextMatch> Match(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = new List<TextMatch>();
        MatchTermsAndDomains(text, matches);
        return Ordered(matches);
    }

    /// <summary>Every match, meaning banks included.</summary>
    public async Task<IReadOnlyList<TextMatch>> MatchAsync(string text, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = new List<TextMatch>();
        // The whole text, and a long one's chunks too (TextChunks: padding must not dilute a known text away).
        Task<float[][]>? embeddings = _meanings.Count > 0 && text.Length > 0
            ? Task.WhenAll(TextChunks.Split(text).Select(c => text[c.Start..c.End]).Prepend(text).Select(part => _embedder!.EmbedAsync(part, ct)))
            : null;
        MatchTermsAndDomains(text, matches);
        if (embeddings is not null)
        {
            var vectors = await embeddings.ConfigureAwait(false);
            foreach (var bank in _meanings) bank.Match(text, vectors, matches);
        }
        return Ordered(matches);
    }

    /// <summary>Terms and domains in the text as stored and, when it uses a right-to-left override, as drawn
    /// (<see cref="VisualOrder"/>: <c>"\u202Emacs"</c> reads <c>scam</c>), each match with its span in the original.</summary>
    private void MatchTermsAndDomains(string text, List<TextMatch> matches)
    {
        MatchInOrder(text, matches);
        if (_terms.Count + _domains.Count > 0 && VisualOrder.Of(text) is { } visual)
        {
            var drawn = new List<TextMatch>();
            MatchInOrder(visual.Text, drawn);
            foreach (var m in drawn)
            {
                var (start, end) = visual.Original(m.Start, m.End);
                matches.Add(m with { Start = start, End = end });
            }
        }
    }

    private void MatchInOrder(string text, List<TextMatch> matches)
    {
        if (_terms.Count > 0)
        {
            var normal = NormalizedText.Create(text);
            foreach (var bank in _terms) bank.Match(normal, matches);
        }
        if (_domains.Count > 0)
        {
            var hosts = LinkFinder.Find(text);
            foreach (var bank in _domains) bank.Match(hosts, matches);
        }
    }

    private static TextMatch[] Ordered(List<TextMatch> matches) =>
        [.. matches.Distinct()
            .OrderBy(m => m.Start).ThenBy(m => m.End)
            .ThenBy(m => m.Kind, StringComparer.Ordinal).ThenBy(m => m.Bank, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal)];
}
