using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>Surfaces, bank rules, ensembles, shadow candidates and line-precise validation of policy files.</summary>
public class PolicyRulesTests
{
    private static Dictionary<string, float> Scores(float porn = 0, float hentai = 0, float sexy = 0, float neutral = 0, float drawing = 0) =>
        new() { ["drawing"] = drawing, ["hentai"] = hentai, ["neutral"] = neutral, ["porn"] = porn, ["sexy"] = sexy };

    private static Policy Parse(string json, IReadOnlyCollection<string>? models = null) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json", models);

    private const string Full = """
        {
          "version": "surfaces-1",
          "takedown": { "porn": 0.90, "hentai": 0.90 },
          "review": { "porn": 0.60, "sexy": 0.80 },
          "surfaces": {
            "story": { "takedown": { "sexy": 0.95 }, "review": { "sexy": 0.50 } },
            "profile-photo": { "takedown": { "porn": 0.70 } }
          },
          "banks": { "borderline": "review", "*": "takedown" },
          "ensemble": { "models": ["a", "b"], "combine": "weighted", "weights": [1, 3] },
          "shadow": { "model": "c", "takedown": { "porn": 0.80 } }
        }
        """;

    [Fact]
    public void A_surface_override_replaces_base_thresholds_class_by_class()
    {
        var policy = Parse(Full);
        var sexy = Scores(sexy: 0.6f);
        Assert.Equal(Actions.Allow, policy.ApplyThresholds("m", sexy).Action);
        Assert.Equal(Actions.Review, policy.ApplyThresholds("m", sexy, "story").Action);
        Assert.Equal(Actions.Takedown, policy.ApplyThresholds("m", Scores(sexy: 0.96f), "story").Action);
        // porn keeps the base thresholds on a story, and an unknown surface is the base policy
        Assert.Equal(Actions.Review, policy.ApplyThresholds("m", Scores(porn: 0.75f), "story").Action);
        Assert.Equal(Actions.Review, policy.ApplyThresholds("m", Scores(porn: 0.75f), "no-such-surface").Action);
        var (action, reasons) = policy.ApplyThresholds("m", Scores(porn: 0.75f), "profile-photo");
        Assert.Equal(Actions.Takedown, action);
        Assert.Equal(0.70f, Assert.Single(reasons).Threshold);
    }

    [Fact]
    public void Decisions_on_an_overridden_surface_are_cached_apart()
    {
        var policy = Parse(Full);
        Assert.Equal("surfaces-1", policy.CacheVersion(null));
        Assert.Equal("surfaces-1", policy.CacheVersion("feed"));
        Assert.Equal("surfaces-1#story", policy.CacheVersion("story"));
    }

    [Fact]
    public void Uploads_carry_an_optional_surface_and_an_odd_one_is_ignored()
    {
        const string prefix = """{"content_id":"c1","media_type":"image","media":{"url":"file:///a.png"}""";
        Assert.Equal("story", UploadEventParser.Parse(Encoding.UTF8.GetBytes(prefix + ""","surface":"story"}""")).Surface);
        Assert.Null(UploadEventParser.Parse(Encoding.UTF8.GetBytes(prefix + "}")).Surface);
        Assert.Null(UploadEventParser.Parse(Encoding.UTF8.GetBytes(prefix + ""","surface":{"x":1}}""")).Surface);
        Assert.Null(UploadEventParser.Parse(Encoding.UTF8.GetBytes(prefix + ""","surface":"no spaces"}""")).Surface);
    }

    [Fact]
    public void Bank_matches_take_down_unless_a_rule_says_review()
    {
        var policy = Parse(Full);
        Assert.Equal(Actions.Review, policy.BankAction("borderline"));
        Assert.Equal(Actions.Takedown, policy.BankAction("known-bad"));
        Assert.Equal(Actions.Takedown, Policy.Default.BankAction("anything"));
        Assert.Equal(Actions.Review, Parse("""{"version":"v","banks":{"*":"review"}}""").BankAction("x"));
    }

    [Fact]
    public void The_shadow_is_judged_by_its_own_thresholds_where_it_has_them()
    {
        var live = Parse(Full);
        var shadow = live.ForShadow();
        Assert.Equal("surfaces-1+shadow", shadow.Version);
        Assert.Equal(0.80f, shadow.Takedown["porn"]);
        Assert.False(shadow.Takedown.ContainsKey("hentai"));
        Assert.Same(live.Review, shadow.Review);
        Assert.Same(Policy.Default, Policy.Default.ForShadow());
        Assert.Equal("live=a+b;shadow=c", live.ModelSet("ignored"));
        Assert.Equal("live=m;shadow=-", Policy.Default.ModelSet("m"));
    }

    [Fact]
    public void Existing_policy_files_keep_loading()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Moderation.Streams.sln"))) root = root.Parent!;
        var file = Path.Combine(root.FullName, "deploy", "policy.example.json");
        var example = Policy.Load(file, ["nsfw-mobilenet-v2", "nsfw-mobilenet-v2-mid", "nsfw-inception-v3"]);
        Assert.False(string.IsNullOrEmpty(example.Version));
        var old = Parse("""{"version":"2026-11-25.1","takedown":{"porn":0.9},"review":{"sexy":0.8},"unscreenable":"review"}""");
        Assert.Equal(Actions.Takedown, old.ApplyThresholds("m", Scores(porn: 0.95f), "story").Action);
    }

    [Fact]
    public void A_written_policy_reads_back_the_same()
    {
        var policy = Parse(Full);
        var again = Parse(PolicyFile.ToJson(policy));
        Assert.Equal(PolicyFile.ToJson(policy), PolicyFile.ToJson(again));
        Assert.Equal(Actions.Review, again.ApplyThresholds("m", Scores(sexy: 0.6f), "story").Action);
        Assert.DoesNotContain("surfaces", PolicyFile.ToJson(Policy.Default));
    }

    [Theory]
    [InlineData("line 5: surfaces.story.review.sexy: review.sexy (0.9) is above takedown.sexy (0.5)",
        "{\n \"version\": \"v\",\n \"surfaces\": {\n  \"story\": {\n   \"review\": {\"sexy\": 0.9},\n   \"takedown\": {\"sexy\": 0.5}}}}")]
    [InlineData("line 3: takedown.nudity: unknown class", "{\n \"version\": \"v\",\n \"takedown\": {\"nudity\": 0.5}}")]
    [InlineData("line 2: banks.x: 'allow' must be 'takedown', 'review' or 'suppress'", "{\"version\": \"v\",\n \"banks\": {\"x\": \"allow\"}}")]
    [InlineData("line 3: banks.x.action: 'allow' must be 'takedown', 'review' or 'suppress'", "{\"version\": \"v\",\n \"banks\": {\"x\": {\"max_distance\": 9,\n\"action\": \"allow\"}}}")]
    [InlineData("banks.x.max_distance: max_distance 256 must be in 0..255", "{\"version\": \"v\", \"banks\": {\"x\": {\"action\": \"review\", \"max_distance\": 256}}}")]
    [InlineData("banks.x.min_quality: min_quality -1 must be in 0..100", "{\"version\": \"v\", \"banks\": {\"x\": {\"min_quality\": -1}}}")]
    [InlineData("unknown property 'distance' in a bank rule", "{\"version\": \"v\", \"banks\": {\"x\": {\"distance\": 3}}}")]
    [InlineData("'max_distance' of a bank rule has the wrong type", "{\"version\": \"v\", \"banks\": {\"x\": {\"max_distance\": \"3\"}}}")]
    [InlineData("duplicate property 'action' in a bank rule", "{\"version\": \"v\", \"banks\": {\"x\": {\"action\": \"review\", \"action\": \"takedown\"}}}")]
    [InlineData("a bank rule is an action or an object", "{\"version\": \"v\", \"banks\": {\"x\": 3}}")]
    [InlineData("line 2: ensemble.models: unknown model 'zzz'", "{\"version\": \"v\",\n\"ensemble\": {\"models\": [\"a\", \"zzz\"]}}")]
    [InlineData("line 3: ensemble.weights: weighted needs one weight per model (2)", "{\"version\": \"v\", \"ensemble\": {\"models\": [\"a\", \"b\"],\n \"combine\": \"weighted\",\n \"weights\": [1]}}")]
    [InlineData("line 2: ensemble.combine: 'median' must be one of max, mean, weighted", "{\"version\": \"v\", \"ensemble\": {\"models\": [\"a\", \"b\"],\n \"combine\": \"median\"}}")]
    [InlineData("line 1: ensemble.models: an ensemble needs at least two models", "{\"version\": \"v\", \"ensemble\": {\"models\": [\"a\"]}}")]
    [InlineData("line 4: shadow.model: unknown model 'c2'", "{\"version\": \"v\",\n\"shadow\": {\n\n\"model\": \"c2\"}}")]
    [InlineData("line 3: shadow.review.porn: review.porn (0.95) is above takedown.porn (0.9)", "{\"version\": \"v\", \"takedown\": {\"porn\": 0.9},\n \"shadow\": {\"model\": \"a\",\n \"review\": {\"porn\": 0.95}}}")]
    [InlineData("invalid policy JSON at line 3", "{\"version\": \"v\",\n \"surfaces\": {\"story\":\n {\"takedown\": {\"porn\": \"high\"}}}}")]
    [InlineData("invalid policy JSON at line 2", "{\"version\": \"v\",\n \"shadow\": {\"modle\": \"a\"}}")]
    public void Invalid_policies_name_the_line_and_the_field(string message, string json)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(json, ["a", "b", "c"]));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("p.json: ", e.Message);
    }

    [Fact]
    public void Every_broken_rule_is_reported_at_once()
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse("{\"version\": \"v\",\n \"takedown\": {\"porn\": 2},\n \"review\": {\"nudity\": 0.5}}"));
        Assert.Contains("line 2: takedown.porn: threshold 2 must be in (0, 1]", e.Message);
        Assert.Contains("line 3: review.nudity: unknown class", e.Message);
    }
}
