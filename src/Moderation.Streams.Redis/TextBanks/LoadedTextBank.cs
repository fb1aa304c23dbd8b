using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Redis.TextBanks;

/// <summary>A text bank as a worker matches with it: exactly one of <see cref="Terms"/>, <see cref="Domains"/> and
/// <see cref="Meanings"/>, by <see cref="Kind"/>.</summary>
public sealed record LoadedTextBank
{
    private LoadedTextBank(string kind) => Kind = kind;

    public string Kind { get; }
    public TermBank? Terms { get; private init; }
    public DomainBank? Domains { get; private init; }
    public MeaningBank? Meanings { get; private init; }

    public static LoadedTextBank Of(TermBank bank) => new(TextBankKinds.Terms) { Terms = bank };
    public static LoadedTextBank Of(DomainBank bank) => new(TextBankKinds.Domains) { Domains = bank };
    public static LoadedTextBank Of(MeaningBank bank) => new(TextBankKinds.Texts) { Meanings = bank };

    /// <summary>One matcher over <paramref name="banks"/>, in their order.</summary>
    /// <exception cref="ArgumentException">A meaning bank and no <paramref name="embedder"/>.</exception>
    public static TextMatcher Compose(IEnumerable<LoadedTextBank> banks, ITextEmbedder? embedder)
    {
        var all = banks.ToList();
        return new TextMatcher([.. all.Select(b => b.Terms).OfType<TermBank>()], [.. all.Select(b => b.Domains).OfType<DomainBank>()],
            [.. all.Select(b => b.Meanings).OfType<MeaningBank>()], embedder);
    }
}
