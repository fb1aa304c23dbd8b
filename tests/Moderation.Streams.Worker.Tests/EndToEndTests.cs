using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

public class EndToEndTests
{
    [Fact]
    public async Task Every_upload_gets_exactly_one_decision_or_dlq_record_and_offsets_are_committed()
    {
        await using var stack = new EmbeddedStack();
        var uploads = new List<(string Key, byte[] Value)>();
        for (int i = 0; i < 40; i++)
            uploads.Add(($"img-{i}", EmbeddedStack.Upload($"img-{i}", stack.WriteImage($"img-{i}.{(i % 2 == 0 ? "png" : "jpg")}", i % 2 == 0 ? SampleImages.Png(i) : SampleImages.Jpeg(i)))));
        uploads.Add(("inline", UploadEventParser.Serialize(new UploadEvent { ContentId = "inline", MediaType = "image", Media = new MediaRef { Data = SampleImages.Png(99, 64, 64) } })));
        stack.WriteImage("corrupt.png", "not an image at all"u8.ToArray());
        var jpeg = SampleImages.Jpeg(5);
        stack.WriteImage("truncated.jpg", jpeg[..(jpeg.Length / 3)]);
        var broken = new Dictionary<string, (byte[] Value, string Code)>
        {
            ["bad-json"] = ("{\"content_id\":"u8.ToArray(), ErrorCodes.InvalidEvent),
            ["bad-id"] = (EmbeddedStack.Upload("has space", "file:///x"), ErrorCodes.InvalidEvent),
            ["bad-type"] = (EmbeddedStack.Upload("bad-type", stack.WriteImage("ok.png", SampleImages.Png(1)), "audio"), ErrorCodes.UnsupportedMedia),
            ["bad-escape"] = (EmbeddedStack.Upload("bad-escape", "file:///etc/passwd"), ErrorCodes.ForbiddenUrl),
            ["bad-ssrf"] = (EmbeddedStack.Upload("bad-ssrf", "https://169.254.169.254/latest/meta-data"), ErrorCodes.ForbiddenUrl),
            ["bad-missing"] = (EmbeddedStack.Upload("bad-missing", new Uri(Path.Combine(stack.MediaRoot.FullName, "none.png")).AbsoluteUri), ErrorCodes.MediaUnavailable),
            ["bad-corrupt"] = (EmbeddedStack.Upload("bad-corrupt", new Uri(Path.Combine(stack.MediaRoot.FullName, "corrupt.png")).AbsoluteUri), ErrorCodes.UnsupportedMedia),
            ["bad-truncated"] = (EmbeddedStack.Upload("bad-truncated", new Uri(Path.Combine(stack.MediaRoot.FullName, "truncated.jpg")).AbsoluteUri), ErrorCodes.UndecodableMedia),
        };
        // Broken events sit between good ones: their neighbours must not be affected.
        var all = uploads.Take(20).Concat(broken.Select(b => (b.Key, b.Value.Value))).Concat(uploads.Skip(20)).ToList();

        using (var host = stack.StartWorker())
        {
            stack.Produce(all);
            var records = stack.ReadOutcomes(all.Count);

            Assert.Equal(all.Count, records.Count);
            Assert.Equal(all.Select(u => u.Key).Order(), records.Select(r => r.Key!).Order());
            foreach (var r in records.Where(r => r.Topic != Topics.Dlq))
            {
                var d = r.Decision;
                Assert.Equal(r.Key, d.ContentId);
                Assert.Equal(r.Topic, d.Action switch { "takedown" => Topics.Takedown, "review" => Topics.Review, _ => Topics.Allow });
                Assert.Equal(Topics.Uploads, d.Source!.Topic);
                Assert.Equal(Policy.Default.Version, d.PolicyVersion);
                Assert.Equal("nsfw-mobilenet-v2@1", d.ModelVersion);
                Assert.Equal(5, d.Scores!.Count);
                Assert.Equal(64, d.Pdq!.Hash.Length);
                Assert.Equal(Policy.Default.ApplyThresholds("nsfw-mobilenet-v2", d.Scores).Action, d.Action);
            }
            foreach (var (key, (value, code)) in broken)
            {
                var dlq = Assert.Single(records, r => r.Key == key);
                Assert.Equal(Topics.Dlq, dlq.Topic);
                Assert.Equal(code, dlq.Header(DlqHeaders.ErrorCode));
                Assert.NotEmpty(dlq.Header(DlqHeaders.ErrorMessage));
                Assert.Equal(Topics.Uploads, dlq.Header(DlqHeaders.SourceTopic));
                Assert.Equal(value, dlq.Value); // original bytes, unchanged
                Assert.True(long.Parse(dlq.Header(DlqHeaders.SourceOffset)) >= 0);
            }
            await host.StopAsync(TestContext.Current.CancellationToken);
        }

        // After a clean stop every partition is committed up to its end: nothing would be screened twice.
        Assert.All(stack.CommittedVsEnd(), p => Assert.Equal(p.High, p.Committed));
    }

    [Fact]
    public async Task An_exact_duplicate_is_decided_from_the_cache_with_the_same_outcome()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(42));
        using var host = stack.StartWorker();
        stack.Produce([("first", EmbeddedStack.Upload("first", url))]);
        var first = Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision;
        stack.Produce([("again", EmbeddedStack.Upload("again", stack.WriteImage("copy.png", SampleImages.Png(42))))]);
        var again = stack.ReadOutcomes(2, settle: TimeSpan.Zero).Single(r => r.Key == "again").Decision;

        Assert.False(first.Cached);
        Assert.True(first.Pdq!.Quality >= 50);
        Assert.True(again.Cached);
        Assert.Equal(first.Action, again.Action);
        Assert.Equal(first.Scores, again.Scores);
        Assert.Equal(first.Pdq, again.Pdq);
        Assert.Equal("again", again.ContentId);
        Assert.NotEqual((first.Source!.Partition, first.Source.Offset), (again.Source!.Partition, again.Source.Offset));
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Without_redis_uploads_are_still_screened_by_the_model()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(7));
        // Nothing listens on port 1: the cache is unavailable from the start.
        using var host = stack.StartWorker(new() { ["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200" });
        stack.Produce([("a", EmbeddedStack.Upload("a", url)), ("b", EmbeddedStack.Upload("b", url))]);
        var records = stack.ReadOutcomes(2);
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.False(r.Decision.Cached));
        Assert.All(records, r => Assert.Equal(5, r.Decision.Scores!.Count));
        Assert.True(host.Services.GetRequiredService<ScreeningStats>().CacheUnavailableCount > 0);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Decisions_and_dlq_records_carry_the_decision_id_of_their_upload_source_policy_and_model()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(8));
        using var host = stack.StartWorker();
        stack.Produce([("a", EmbeddedStack.Upload("a", url)), ("bad", "{\"content_id\":"u8.ToArray())]);
        var records = stack.ReadOutcomes(2);
        var decision = Assert.Single(records, r => r.Topic != Topics.Dlq);
        Assert.Equal(DecisionId.For("a", Topics.Uploads, decision.Partition, decision.Offset, decision.Decision.PolicyVersion, decision.Decision.ModelVersion!),
            decision.Header(DecisionId.Header));
        var dlq = Assert.Single(records, r => r.Topic == Topics.Dlq);
        Assert.Equal(DecisionId.For("bad", Topics.Uploads, int.Parse(dlq.Header(DlqHeaders.SourcePartition)), long.Parse(dlq.Header(DlqHeaders.SourceOffset)),
            decision.Decision.PolicyVersion, decision.Decision.ModelVersion!), dlq.Header(DecisionId.Header));
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_upload_trace_context_is_carried_onto_its_decision()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(8));
        using var host = stack.StartWorker();
        const string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        stack.Produce([("a", EmbeddedStack.Upload("a", url))], new Headers { { "traceparent", Encoding.ASCII.GetBytes(traceparent) } });
        var record = Assert.Single(stack.ReadOutcomes(1));
        // Same trace id; the span id is the worker's own when tracing is on, the producer's otherwise.
        Assert.StartsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-", record.Header("traceparent"));
        await host.StopAsync(TestContext.Current.CancellationToken);
    }
}
