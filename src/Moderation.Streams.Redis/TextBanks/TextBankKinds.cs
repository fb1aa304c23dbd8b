namespace Moderation.Streams.Redis.TextBanks;

/// <summary>The kinds of text bank (<c>bank import --kind</c>).</summary>
public static class TextBankKinds
{
    /// <summary><c>pattern,category[,id[,mode]]</c>: words, phrases, substrings or regexes.</summary>
    public const string Terms = "terms";

    /// <summary><c>domain,category[,id]</c>: the domain and every subdomain of it.</summary>
    public const string Domains = "domains";

    /// <summary><c>text,category[,id]</c>: known violating texts, matched by meaning (sentence embeddings).</summary>
    public const string Texts = "texts";

    public static IReadOnlyList<string> All { get; } = [Terms, Domains, Texts];
}
