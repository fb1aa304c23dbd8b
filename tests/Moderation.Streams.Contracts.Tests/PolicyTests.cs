using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public class PolicyTests
{
    private static Dictionary<string, float> Scores(float porn = 0, float hentai = 0, float sexy = 0, float neutral = 0, float drawing = 0) =>
        new() { ["drawing"] = drawing, ["hentai"] = hentai, ["neutral"] = neutral, ["porn"] = porn, ["sexy"] = sexy };

    [Fact]
    public void Scores_at_or_above_the_takedown_threshold_take_down_with_the_reason()
    {
        var (action, reasons) = Policy.Default.ApplyThresholds("m", Scores(porn: 0.90f, sexy: 0.85f));
        Assert.Equal(Actions.Takedown, action);
        var reason = Assert.Single(reasons);
        Assert.Equal(("model", "m", "porn", 0.90f, 0.90f), (reason.Source, reason.Model, reason.Label, reason.Score!.Value, reason.Threshold!.Value));
    }

    [Fact]
    public void The_review_band_sits_below_takedown()
    {
        Assert.Equal(Actions.Review, Policy.Default.ApplyThresholds("m", Scores(porn: 0.89f)).Action);
        Assert.Equal(Actions.Review, Policy.Default.ApplyThresholds("m", Scores(sexy: 0.80f)).Action);
        Assert.Equal(Actions.Allow, Policy.Default.ApplyThresholds("m", Scores(porn: 0.59f, sexy: 0.79f, neutral: 0.99f)).Action);
        Assert.Empty(Policy.Default.ApplyThresholds("m", Scores(neutral: 1)).Reasons);
    }

    [Fact]
    public void Policies_load_from_json_files()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """
                // strict policy
                {"version":"strict-1","takedown":{"porn":0.5},"review":{"sexy":0.3},"unscreenable":"dlq"}
                """);
            var policy = Policy.Load(file);
            Assert.Equal("strict-1", policy.Version);
            Assert.Equal("dlq", policy.Unscreenable);
            Assert.Equal(Actions.Takedown, policy.ApplyThresholds("m", Scores(porn: 0.5f)).Action);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("""{"version":"v","takedown":{"nudity":0.5}}""", "takedown.nudity: unknown class")]
    [InlineData("""{"version":"v","takedown":{"porn":1.5}}""", "must be in (0, 1]")]
    [InlineData("""{"version":"v","takedown":{"porn":0.5},"review":{"porn":0.7}}""", "above takedown.porn")]
    [InlineData("""{"version":"v","unscreenable":"allow"}""", "never allow")]
    [InlineData("""{"version":""}""", "version is required")]
    [InlineData("""{"version":"v","threshold":1}""", "line 1")]
    [InlineData("{\"version\":\"v\",\n \"takedown\":{\"porn\":\"high\"}}", "line 2")]
    public void Invalid_policies_are_refused_with_a_precise_message(string json, string message)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, json);
            var e = Assert.Throws<InvalidDataException>(() => Policy.Load(file));
            Assert.Contains(message, e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Decisions_serialise_in_the_contract_format()
    {
        var decision = new DecisionEvent
        {
            ContentId = "c-123",
            Action = Actions.Takedown,
            Reasons = [new DecisionReason { Source = "model", Model = "nsfw-mobilenet-v2", Label = "porn", Score = 0.97f, Threshold = 0.9f }],
            Scores = new Dictionary<string, float> { ["porn"] = 0.97f },
            Pdq = new PdqInfo(new string('a', 64), 87),
            PolicyVersion = "2026-11-25.1",
            ModelVersion = "nsfw-mobilenet-v2@1",
            DecidedAt = new DateTimeOffset(2026, 11, 25, 10, 0, 0, 120, TimeSpan.Zero),
            LatencyMs = 120,
            Source = new SourceInfo("uploads", 3, 1234),
        };
        var json = System.Text.Encoding.UTF8.GetString(decision.ToUtf8Json());
        Assert.Equal("""{"content_id":"c-123","action":"takedown","reasons":[{"source":"model","model":"nsfw-mobilenet-v2","label":"porn","score":0.97,"threshold":0.9}],"scores":{"porn":0.97},"pdq":{"hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","quality":87},"policy_version":"2026-11-25.1","model_version":"nsfw-mobilenet-v2@1","cached":false,"decided_at":"2026-11-25T10:00:00.120Z","latency_ms":120,"source":{"topic":"uploads","partition":3,"offset":1234}}""", json);
        Assert.Equal(decision.ContentId, DecisionEvent.FromUtf8Json(decision.ToUtf8Json()).ContentId);
    }
}
