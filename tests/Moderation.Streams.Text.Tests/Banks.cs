namespace Moderation.Streams.Text.Tests;

internal static class Banks
{
    public static TermBank Terms(string csv, string name = "terms") => TermBank.Load(name, new StringReader(csv));

    public static DomainBank Domains(string csv, string name = "domains") => DomainBank.Load(name, new StringReader(csv));

    public static IReadOnlyList<TextMatch> Match(string text, TermBank? terms = null, DomainBank? domains = null) =>
        new TextMatcher(terms is null ? [] : [terms], domains is null ? [] : [domains]).Match(text);
}
