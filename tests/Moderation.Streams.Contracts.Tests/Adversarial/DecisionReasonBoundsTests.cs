using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests.Adversarial;

/// <summary>
/// A decision's size is bounded by construction: every text of a reason (a bank entry's id written by an older
/// version or straight into Redis, an exception's message) is escaped and cut when the reason is made, and a
/// decision read back (the decision cache) stays the same.
/// </summary>
public sealed class DecisionReasonBoundsTests
{
    private static DecisionEvent Decision(DecisionReason reason) => new()
    {
        ContentId = "c-1", Action = Actions.Takedown, Reasons = [reason], PolicyVersion = "p", DecidedAt = DateTimeOffset.UnixEpoch,
    };

    [Theory]
    [InlineData(TextLimits.BankIdChars - 1, false)]
    [InlineData(TextLimits.BankIdChars, false)]
    [InlineData(TextLimits.BankIdChars + 1, true)]
    [InlineData(1_100_000, true)]
    public void A_match_id_just_under_at_and_over_the_limit_is_kept_kept_and_cut(int length, bool cut)
    {
        var id = new string('i', length);
        var reason = new DecisionReason { Source = "bank", Bank = "known-bad", MatchId = id, Distance = 3 };
        Assert.Equal(cut ? TextLimits.BankIdChars : length, reason.MatchId!.Length);
        Assert.Equal(cut, reason.MatchId.EndsWith(SafeText.Ellipsis, StringComparison.Ordinal));
        Assert.InRange(Decision(reason).ToUtf8Json().Length, 0, TextLimits.BankIdChars * 6 + 500);
    }

    [Fact]
    public void Control_and_format_characters_in_any_reason_text_are_escaped()
    {
        var reason = new DecisionReason
        {
            Source = "bank\n", Bank = "b\u202E", MatchId = "h-1\r\n{\"action\":\"allow\"}", Model = "m\u0000", Label = "porn\u200B",
            Code = "internal\u001b[2J", Message = "failed:\nline two" + new string('m', 5000),
        };
        Assert.Equal("h-1\\u000D\\u000A{\"action\":\"allow\"}", reason.MatchId);
        Assert.Equal(("bank\\u000A", "b\\u202E", "m\\u0000", "porn\\u200B", "internal\\u001B[2J"), (reason.Source, reason.Bank, reason.Model, reason.Label, reason.Code));
        Assert.StartsWith("failed:\\u000Aline two", reason.Message);
        Assert.Equal(TextLimits.ReasonMessageChars, reason.Message!.Length);
    }

    [Fact]
    public void A_bounded_decision_reads_back_unchanged()
    {
        var reason = new DecisionReason { Source = "bank", Bank = "b", MatchId = new string('i', 5000) + "\n", Message = "x\ty" };
        var decision = Decision(reason);
        var again = DecisionEvent.FromUtf8Json(decision.ToUtf8Json());
        Assert.Equal(decision.Reasons[0], again.Reasons[0]);
        Assert.Equal(decision.ToUtf8Json(), again.ToUtf8Json());
    }

    [Fact]
    public void A_json_null_decision_is_a_json_error()
    {
        var e = Assert.Throws<System.Text.Json.JsonException>(() => DecisionEvent.FromUtf8Json("null"u8));
        Assert.Equal("null decision", e.Message);
    }

    [Fact]
    public void Texts_set_to_null_stay_null_and_are_left_out_of_the_json()
    {
        var reason = new DecisionReason { Source = "model", Bank = null, MatchId = null, Model = null, Label = null, Code = null, Message = null };
        Assert.Equal((string?)null, reason.Bank ?? reason.MatchId ?? reason.Model ?? reason.Label ?? reason.Code ?? reason.Message);
        Assert.Contains("\"reasons\":[{\"source\":\"model\"}]", System.Text.Encoding.UTF8.GetString(Decision(reason).ToUtf8Json()));
    }
}
