namespace Moderation.Streams.Text.Tests;

/// <summary>
/// Work is linear in the text: a megabyte of adversarial text (long runs, endless separator chains, many
/// near-matches, many host-shaped tokens) is matched within the test's cancellation token. No time is asserted;
/// a quadratic matcher would not finish.
/// </summary>
public sealed class BoundedInputTests
{
    private const int Megabyte = 1 << 20;

    public static TheoryData<string> Shapes => new()
    {
        "a",
        "s.",
        "s c ",
        "sca",
        "free ",
        "bad.",
        "bad[.]",
        "x dot ",
        "𝐬\u200B",
        "5c4",
    };

    /// <summary>Only bounds a failure (a quadratic matcher takes hours on these); nothing measures the time taken.</summary>
    private const int Deadline = 120_000;

    [Theory(Timeout = Deadline)]
    [MemberData(nameof(Shapes))]
    public async Task A_megabyte_of_adversarial_text_is_matched_in_linear_time(string shape)
    {
        var text = string.Concat(Enumerable.Repeat(shape, Megabyte / shape.Length + 1))[..Megabyte];
        if (char.IsHighSurrogate(text[^1])) text = text[..^1];
        var terms = Banks.Terms("scam,scam\nfree money,spam\nsca,x,s,substring\n\"(a|aa)*c\",x,r,regex\n");
        var domains = Banks.Domains("bad.example,phishing\n");
        var matcher = new TextMatcher([terms], [domains]);

        var matches = await Task.Run(() => matcher.Match(text), TestContext.Current.CancellationToken)
            .WaitAsync(TestContext.Current.CancellationToken);

        Assert.All(matches, m => Assert.InRange(m.End, m.Start + 1, text.Length));
    }
}
