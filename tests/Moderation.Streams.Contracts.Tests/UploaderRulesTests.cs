using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>The policy's <c>uploaders</c> section and <see cref="Decider.ForUploader"/>: strikes, velocity and campaigns
/// only ever raise the content's decision, and fail closed while their counters are unavailable.</summary>
public class UploaderRulesTests
{
    private static Policy Parse(string json) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json");

    private const string Design = """
        {
          "version": "uploaders-1",
          "uploaders": {
            "strikes":   {"window": "7d", "review_at": 3},
            "velocity":  {"window": "1m", "review_at": 30},
            "campaigns": {"window": "1h", "distinct_uploaders": 5, "max_distance": 31, "action": "review"}
          }
        }
        """;

    private static readonly Policy Rules = Parse(Design);

    private static DecisionEvent Decision(string action, params DecisionReason[] reasons) => new()
    {
        ContentId = "c-1", Action = action, Reasons = reasons, PolicyVersion = "uploaders-1", DecidedAt = DateTimeOffset.UnixEpoch,
    };

    private static readonly DecisionReason ModelReason = new() { Source = "model", Model = "m", Label = "porn", Score = 0.95f, Threshold = 0.9f };

    [Fact]
    public void The_designs_section_parses_with_its_windows()
    {
        var u = Assert.IsType<PolicyUploaders>(Rules.Uploaders);
        Assert.Equal((TimeSpan.FromDays(7), 3), (u.Strikes!.Span, u.Strikes.ReviewAt));
        Assert.Equal((TimeSpan.FromMinutes(1), 30), (u.Velocity!.Span, u.Velocity.ReviewAt));
        Assert.Equal((TimeSpan.FromHours(1), 5, 31, Actions.Review), (u.Campaigns!.Span, u.Campaigns.DistinctUploaders, u.Campaigns.MaxDistance, u.Campaigns.Action));
        Assert.Null(Policy.Default.Uploaders);
        var defaults = Parse("""{"version":"v","uploaders":{"campaigns":{"window":"1h","distinct_uploaders":2}}}""").Uploaders!.Campaigns!;
        Assert.Equal((31, Actions.Review), (defaults.MaxDistance, defaults.Action));
    }

    [Theory]
    [InlineData("1s", 1)]
    [InlineData("30s", 30)]
    [InlineData("1m", 60)]
    [InlineData("2h", 7200)]
    [InlineData("7d", 604800)]
    [InlineData("365d", 31536000)]
    public void A_window_is_a_whole_number_and_a_unit(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), PolicyWindow.TryParse(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("10")]
    [InlineData("0s")]
    [InlineData("366d")]
    [InlineData("1w")]
    [InlineData("1M")]
    [InlineData("1.5h")]
    [InlineData("-1m")]
    [InlineData("+1m")]
    [InlineData(" 1m")]
    [InlineData("1 m")]
    [InlineData("99999999999d")]
    [InlineData("١m")] // an Arabic-Indic digit is not a digit here
    public void Anything_else_is_not_a_window(string? text) => Assert.Null(PolicyWindow.TryParse(text));

    [Theory]
    [InlineData("line 3: uploaders.strikes.window: '7w' is not a window", "{\"version\": \"v\", \"uploaders\": {\n\n\"strikes\": {\"window\": \"7w\", \"review_at\": 3}}}")]
    [InlineData("uploaders.strikes.review_at: review_at 10001 must be in 1..10000", "{\"version\": \"v\", \"uploaders\": {\"strikes\": {\"window\": \"1m\", \"review_at\": 10001}}}")]
    [InlineData("line 2: uploaders.velocity.review_at: review_at 0 must be in 1..10000", "{\"version\": \"v\",\n \"uploaders\": {\"velocity\": {\"window\": \"1m\", \"review_at\": 0}}}")]
    [InlineData("uploaders.campaigns.distinct_uploaders: distinct_uploaders 1 must be at least 2", "{\"version\": \"v\", \"uploaders\": {\"campaigns\": {\"window\": \"1h\", \"distinct_uploaders\": 1}}}")]
    [InlineData("uploaders.campaigns.max_distance: max_distance 64 must be in 0..63", "{\"version\": \"v\", \"uploaders\": {\"campaigns\": {\"window\": \"1h\", \"distinct_uploaders\": 5, \"max_distance\": 64}}}")]
    [InlineData("uploaders.campaigns.max_distance: max_distance -1 must be in 0..63", "{\"version\": \"v\", \"uploaders\": {\"campaigns\": {\"window\": \"1h\", \"distinct_uploaders\": 5, \"max_distance\": -1}}}")]
    [InlineData("uploaders.campaigns.action: 'allow' must be 'takedown' or 'review'", "{\"version\": \"v\", \"uploaders\": {\"campaigns\": {\"window\": \"1h\", \"distinct_uploaders\": 5, \"action\": \"allow\"}}}")]
    [InlineData("uploaders.campaigns.window: '' is not a window", "{\"version\": \"v\", \"uploaders\": {\"campaigns\": {\"distinct_uploaders\": 5}}}")]
    [InlineData("uploaders.strikes.nope", "{\"version\": \"v\", \"uploaders\": {\"strikes\": {\"window\": \"1d\", \"review_at\": 1, \"nope\": 1}}}")]
    public void A_bad_uploaders_section_is_refused_naming_the_field(string expected, string json)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(json));
        Assert.Contains(expected.Replace("uploaders.strikes.nope", "nope"), e.Message);
    }

    [Fact]
    public void Without_an_uploaders_section_the_decision_is_the_contents_whatever_the_counts()
    {
        var allow = Decision(Actions.Allow);
        var counts = new UploaderSignal { Strikes = 100, Velocity = 1000, CampaignUploaders = 1000 };
        Assert.Same(allow, Decider.ForUploader(Policy.Default, allow, counts, failClosed: true));
        Assert.Same(allow, Decider.ForUploader(Policy.Default, allow, UploaderSignal.Unavailable, failClosed: true));
    }

    [Theory]
    [InlineData(2, null, Actions.Allow)]
    [InlineData(3, null, Actions.Review)]
    [InlineData(null, 29, Actions.Allow)]
    [InlineData(null, 30, Actions.Review)]
    [InlineData(0, 0, Actions.Allow)]
    public void Strikes_and_velocity_send_the_upload_to_review_at_their_number(int? strikes, int? velocity, string expected)
    {
        var decided = Decider.ForUploader(Rules, Decision(Actions.Allow), new UploaderSignal { Strikes = strikes, Velocity = velocity }, failClosed: true);
        Assert.Equal(expected, decided.Action);
        if (expected == Actions.Allow) return;
        var reason = Assert.Single(decided.Reasons);
        Assert.Equal("uploader", reason.Source);
        Assert.Equal(strikes is not null ? ("strikes", 3, "7d") : ("velocity", 30, "1m"), (reason.Rule!, reason.Count!.Value, reason.Window!));
    }

    [Fact]
    public void Both_rules_firing_give_both_reasons_after_the_contents_and_never_lower_a_takedown()
    {
        var takedown = Decision(Actions.Takedown, ModelReason);
        var decided = Decider.ForUploader(Rules, takedown, new UploaderSignal { Strikes = 4, Velocity = 31 }, failClosed: true);
        Assert.Equal(Actions.Takedown, decided.Action);
        Assert.Equal(["model", "uploader", "uploader"], decided.Reasons.Select(r => r.Source));
        Assert.Equal(["strikes", "velocity"], decided.Reasons.Skip(1).Select(r => r.Rule!));
        Assert.Equal([4, 31], decided.Reasons.Skip(1).Select(r => r.Count!.Value));
    }

    [Theory]
    [InlineData(4, Actions.Review, Actions.Allow)]
    [InlineData(5, Actions.Review, Actions.Review)]
    [InlineData(5, Actions.Takedown, Actions.Takedown)]
    [InlineData(50, Actions.Takedown, Actions.Takedown)]
    public void A_campaign_takes_its_rules_action_from_the_distinct_uploaders_number(int uploaders, string ruleAction, string expected)
    {
        var policy = Rules with { Uploaders = Rules.Uploaders! with { Campaigns = Rules.Uploaders.Campaigns! with { Action = ruleAction } } };
        var decided = Decider.ForUploader(policy, Decision(Actions.Allow), new UploaderSignal { CampaignUploaders = uploaders }, failClosed: true);
        Assert.Equal(expected, decided.Action);
        if (expected == Actions.Allow)
        {
            Assert.Empty(decided.Reasons);
            return;
        }
        var reason = Assert.Single(decided.Reasons);
        Assert.Equal(("campaign", uploaders, "1h"), (reason.Source, reason.Uploaders!.Value, reason.Window!));
        Assert.Null(reason.Rule);
    }

    [Fact]
    public void A_review_campaign_does_not_lower_a_takedown_and_a_takedown_campaign_raises_a_review()
    {
        var takedownCampaign = Rules with { Uploaders = Rules.Uploaders! with { Campaigns = Rules.Uploaders.Campaigns! with { Action = Actions.Takedown } } };
        Assert.Equal(Actions.Takedown, Decider.ForUploader(Rules, Decision(Actions.Takedown), new UploaderSignal { CampaignUploaders = 9 }, true).Action);
        Assert.Equal(Actions.Takedown, Decider.ForUploader(takedownCampaign, Decision(Actions.Review), new UploaderSignal { CampaignUploaders = 9 }, true).Action);
    }

    [Fact]
    public void Rules_the_policy_does_not_have_do_not_fire_on_counts()
    {
        var onlyStrikes = Rules with { Uploaders = new PolicyUploaders { Strikes = Rules.Uploaders!.Strikes } };
        var decided = Decider.ForUploader(onlyStrikes, Decision(Actions.Allow), new UploaderSignal { Velocity = 1000, CampaignUploaders = 1000 }, true);
        Assert.Equal(Actions.Allow, decided.Action);
        Assert.Empty(decided.Reasons);
    }

    [Theory]
    [InlineData(Actions.Allow, true, Actions.Review)]
    [InlineData(Actions.Allow, false, Actions.Allow)]
    [InlineData(Actions.Review, true, Actions.Review)]
    [InlineData(Actions.Takedown, true, Actions.Takedown)]
    public void While_the_counters_are_unavailable_an_allow_fails_closed_to_review(string action, bool failClosed, string expected)
    {
        var decided = Decider.ForUploader(Rules, Decision(action), UploaderSignal.Unavailable, failClosed);
        Assert.Equal(expected, decided.Action);
        if (action == Actions.Allow && failClosed)
            Assert.Equal(Decider.UploaderSignalsUnavailableCode, Assert.Single(decided.Reasons).Code);
        else
            Assert.Empty(decided.Reasons);
    }

    [Fact]
    public void Uploader_reasons_serialise_with_the_designs_field_names()
    {
        var decided = Decider.ForUploader(Rules, Decision(Actions.Allow), new UploaderSignal { Strikes = 3, CampaignUploaders = 6 }, true);
        var json = Encoding.UTF8.GetString(decided.ToUtf8Json());
        Assert.Contains("""{"source":"uploader","rule":"strikes","count":3,"window":"7d"}""", json);
        Assert.Contains("""{"source":"campaign","window":"1h","uploaders":6}""", json);
    }
}
