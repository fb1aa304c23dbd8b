using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public class TextLimitsTests
{
    [Fact]
    public void Free_text_at_its_limit_passes_and_one_character_more_is_refused_with_its_length()
    {
        Assert.Null(TextLimits.Refusal("id", new string('a', 10), 10));
        Assert.Null(TextLimits.Refusal("id", null, 10));
        Assert.Equal("id is 11 characters, over the limit of 10", TextLimits.Refusal("id", new string('a', 11), 10));
    }

    [Fact]
    public void Control_or_format_characters_are_refused_and_shown_escaped()
    {
        Assert.Equal("label 'a\\u001B[31m' has a control or format character (shown escaped)", TextLimits.Refusal("label", "a\u001b[31m", 256));
        Assert.Equal("label 'x\\u200By' has a control or format character (shown escaped)", TextLimits.Refusal("label", "x\u200By", 256));
        Assert.Equal(80, TextLimits.Shown(new string('z', 500)).Length);
    }
}
