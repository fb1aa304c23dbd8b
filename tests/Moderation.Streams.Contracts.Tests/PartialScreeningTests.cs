using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>Media screened only in part (frames past a budget, a track or a stretch that could not be decoded) is never
/// allowed: the one rule both the video and the animated-image paths apply.</summary>
public sealed class PartialScreeningTests
{
    private static readonly DecisionReason Model = new() { Source = "model", Label = "sexy", Score = 0.85f, Threshold = 0.8f };

    [Fact]
    public void A_partially_screened_allow_goes_to_review_with_the_reason_saying_what_was_not_covered()
    {
        var (action, reasons) = PartialScreening.Apply(Actions.Allow, [], "frames after 120.0 s were not sampled");

        Assert.Equal(Actions.Review, action);
        var reason = Assert.Single(reasons);
        Assert.Equal(("fail-closed", "partially-screened", "frames after 120.0 s were not sampled"), (reason.Source, reason.Code, reason.Message));
    }

    [Fact]
    public void A_review_keeps_its_reasons_and_gains_the_partial_one_and_a_takedown_stays_a_takedown()
    {
        var review = PartialScreening.Apply(Actions.Review, [Model], "track 2 could not be decoded");
        Assert.Equal(Actions.Review, review.Action);
        Assert.Equal(["model", "fail-closed"], review.Reasons.Select(r => r.Source));

        var takedown = PartialScreening.Apply(Actions.Takedown, [Model], "track 2 could not be decoded");
        Assert.Equal(Actions.Takedown, takedown.Action);
        Assert.Equal(["model", "fail-closed"], takedown.Reasons.Select(r => r.Source));
        Assert.Equal(PartialScreening.Code, takedown.Reasons[1].Code);
    }

    [Fact]
    public void Fully_screened_media_is_left_alone_and_the_message_is_escaped_and_capped()
    {
        IReadOnlyList<DecisionReason> reasons = [Model];
        var (action, same) = PartialScreening.Apply(Actions.Allow, reasons, null);
        Assert.Equal(Actions.Allow, action);
        Assert.Same(reasons, same);

        var (_, escaped) = PartialScreening.Apply(Actions.Allow, [], "bad\nline" + new string('x', 1000));
        var message = Assert.Single(escaped).Message!;
        Assert.DoesNotContain('\n', message);
        Assert.True(message.Length <= PartialScreening.MaxMessageChars + 1, message);
    }

    [Fact]
    public void Null_reasons_are_refused_even_when_everything_was_screened()
    {
        Assert.Throws<ArgumentNullException>(() => PartialScreening.Apply(Actions.Allow, null!, null));
        Assert.Throws<ArgumentNullException>(() => PartialScreening.Apply(Actions.Allow, null!, "x"));
    }
}
