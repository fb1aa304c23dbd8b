using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Worker.Tests;

/// <summary><see cref="UploaderRules"/> at the edge: a store that is down or missing fails closed without stalling, only
/// takedowns become strikes, low-quality hashes stay out of campaigns, and a replay's rules are off.</summary>
public sealed class UploaderRulesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Recorder(UploaderSignal answer, bool down = false) : IUploaderState
    {
        public List<UploaderCount> Counted { get; } = [];
        public List<(string Uploader, string Content, TimeSpan Window)> Strikes { get; } = [];

        public Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct)
        {
            Counted.Add(request);
            return down ? throw new StoreUnavailableException("connection refused") : Task.FromResult(answer);
        }

        public Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct)
        {
            Strikes.Add((uploader, contentId, window));
            return down ? throw new StoreUnavailableException("connection refused") : Task.CompletedTask;
        }
    }

    private static readonly Policy Rules = Policy.Default with
    {
        Version = "u-1",
        Uploaders = new PolicyUploaders
        {
            Strikes = new PolicyCountRule { Window = "7d", ReviewAt = 3 },
            Campaigns = new PolicyCampaignRule { Window = "1h", DistinctUploaders = 2 },
        },
    };

    private static readonly UploadEvent Upload = new() { ContentId = "c-1", UploaderId = "u-9", MediaType = MediaTypes.Image };

    private static DecisionEvent Decision(string action, int quality = 90) => new()
    {
        ContentId = "c-1", Action = action, Reasons = [], PolicyVersion = "u-1", DecidedAt = DateTimeOffset.UnixEpoch,
        Pdq = new PdqInfo(new string('a', 64), quality),
    };

    [Fact]
    public async Task A_takedown_becomes_a_strike_and_the_hash_goes_to_the_campaign_count()
    {
        var state = new Recorder(new UploaderSignal { Strikes = 0, CampaignUploaders = 1 });
        var rules = new UploaderRules(state, failClosed: true, NullLogger.Instance);
        Assert.Equal(Actions.Takedown, (await rules.ApplyAsync(Rules, Upload, Decision(Actions.Takedown), Ct)).Action);
        Assert.Equal(("u-9", "c-1", TimeSpan.FromDays(7)), Assert.Single(state.Strikes));
        var counted = Assert.Single(state.Counted);
        Assert.Equal(("c-1", "u-9", new string('a', 64), true), (counted.ContentId, counted.UploaderId, counted.PdqHex, counted.Record));

        await rules.ApplyAsync(Rules, Upload, Decision(Actions.Review, quality: 49), Ct);
        Assert.Single(state.Strikes); // a review is no strike
        Assert.Null(state.Counted[^1].PdqHex); // a hash below quality 50 is not matched for campaigns
    }

    [Fact]
    public async Task A_campaign_takedown_found_here_is_a_strike_too()
    {
        var policy = Rules with { Uploaders = Rules.Uploaders! with { Campaigns = Rules.Uploaders.Campaigns! with { Action = Actions.Takedown } } };
        var state = new Recorder(new UploaderSignal { Strikes = 0, CampaignUploaders = 2 });
        var decided = await new UploaderRules(state, true, NullLogger.Instance).ApplyAsync(policy, Upload, Decision(Actions.Allow), Ct);
        Assert.Equal(Actions.Takedown, decided.Action);
        Assert.Single(state.Strikes);
    }

    [Theory]
    [InlineData(true, Actions.Review)]
    [InlineData(false, Actions.Allow)]
    public async Task A_store_that_is_down_fails_an_allow_closed_as_configured_and_never_throws(bool failClosed, string expected)
    {
        var rules = new UploaderRules(new Recorder(UploaderSignal.NotCounted, down: true), failClosed, NullLogger.Instance);
        var decided = await rules.ApplyAsync(Rules, Upload, Decision(Actions.Allow), Ct);
        Assert.Equal(expected, decided.Action);
        // A takedown whose strike cannot be written is still a takedown.
        Assert.Equal(Actions.Takedown, (await rules.ApplyAsync(Rules, Upload, Decision(Actions.Takedown), Ct)).Action);
    }

    /// <summary>Counts in batches; its first call waits until released; every call fails as a store that is down.</summary>
    private sealed class DownInBatches : IUploaderState
    {
        public TaskCompletionSource FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<int> Calls { get; } = [];

        public bool CountsInBatches => true;

        public async Task<IReadOnlyList<UploaderSignal>> CountManyAsync(IReadOnlyList<UploaderCount> requests, CancellationToken ct)
        {
            bool first;
            lock (Calls)
            {
                first = Calls.Count == 0;
                Calls.Add(requests.Count);
            }
            if (first) await FirstCall.Task;
            throw new StoreUnavailableException("connection refused");
        }

        public Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct) => throw new InvalidOperationException("the batcher counts in batches");

        public Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_batch_that_fails_fails_each_of_its_uploads_closed()
    {
        var store = new DownInBatches();
        var rules = new UploaderRules(new UploaderCountBatcher(store, TimeSpan.FromSeconds(1), 32), failClosed: true, NullLogger.Instance);
        var first = rules.ApplyAsync(Rules, Upload, Decision(Actions.Allow), Ct);
        // Three more uploads, from other uploaders, decided while the first count is in flight: they wait for it.
        var batch = Enumerable.Range(2, 3).Select(i => rules.ApplyAsync(Rules, Upload with { ContentId = $"c-{i}", UploaderId = $"u-{i}" },
            Decision(Actions.Allow) with { ContentId = $"c-{i}" }, Ct)).ToArray();
        store.FirstCall.SetResult();
        var decided = await Task.WhenAll([first, .. batch]).WaitAsync(TimeSpan.FromSeconds(10), Ct); // hang guard only
        Assert.All(decided, d => Assert.Equal((Actions.Review, Decider.UploaderSignalsUnavailableCode), (d.Action, Assert.Single(d.Reasons).Code)));
        Assert.Equal(["c-1", "c-2", "c-3", "c-4"], decided.Select(d => d.ContentId));
        lock (store.Calls) Assert.Equal([1, 3], store.Calls);
    }

    [Fact]
    public async Task Without_a_store_a_policy_with_uploader_rules_fails_closed_and_without_rules_nothing_changes()
    {
        var rules = new UploaderRules(null, true, NullLogger.Instance);
        var decided = await rules.ApplyAsync(Rules, Upload, Decision(Actions.Allow), Ct);
        Assert.Equal((Actions.Review, Decider.UploaderSignalsUnavailableCode), (decided.Action, Assert.Single(decided.Reasons).Code));
        var plain = Decision(Actions.Allow);
        Assert.Same(plain, await rules.ApplyAsync(Policy.Default, Upload, plain, Ct));
    }

    [Fact]
    public async Task A_replays_rules_are_off_whatever_the_policy_says()
    {
        var decision = Decision(Actions.Allow);
        Assert.Same(decision, await UploaderRules.Off.ApplyAsync(Rules, Upload, decision, Ct));
    }
}
