using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>The contract's fixed code lists, action severities and <see cref="ModerationException"/>'s own rules: its
/// message is escaped and cut once, its code, cause and transience are kept as given.</summary>
public sealed class ModerationExceptionTests
{
    [Fact]
    public void The_error_codes_and_actions_are_exactly_the_contract_ones()
    {
        Assert.Equal(["invalid-event", "unsupported-media", "forbidden-url", "media-unavailable", "media-too-large", "undecodable-media", "internal"], ErrorCodes.All);
        Assert.Equal(["takedown", "review", "allow"], Actions.All);
    }

    [Fact]
    public void At_least_review_keeps_a_takedown_and_makes_anything_else_a_review() =>
        Assert.Equal((Actions.Takedown, Actions.Review, Actions.Review),
            (Actions.AtLeastReview(Actions.Takedown), Actions.AtLeastReview(Actions.Review), Actions.AtLeastReview(Actions.Allow)));

    [Fact]
    public void Severity_orders_takedown_over_review_over_allow_and_refuses_anything_else()
    {
        Assert.Equal((2, 1, 0), (Actions.Severity(Actions.Takedown), Actions.Severity(Actions.Review), Actions.Severity(Actions.Allow)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Actions.Severity("Allow"));
        Assert.Equal("action", e.ParamName);
        Assert.StartsWith("unknown action", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_message_is_escaped_and_cut_at_its_limit_and_the_rest_is_kept_as_given()
    {
        var inner = new IOException("cause");
        var e = new ModerationException(ErrorCodes.Internal, "a\nb", inner);
        Assert.Equal((ErrorCodes.Internal, "a\\u000Ab", false), (e.Code, e.Message, e.Transient));
        Assert.Same(inner, e.InnerException);
        Assert.True(new ModerationException(ErrorCodes.MediaUnavailable, "503") { Transient = true }.Transient);

        var atLimit = new string('m', ModerationException.MaxMessageChars);
        Assert.Equal(atLimit, new ModerationException(ErrorCodes.Internal, atLimit).Message);
        var cut = new ModerationException(ErrorCodes.Internal, atLimit + "m").Message;
        Assert.Equal(ModerationException.MaxMessageChars, cut.Length);
        Assert.EndsWith(SafeText.Ellipsis, cut, StringComparison.Ordinal);
    }
}
