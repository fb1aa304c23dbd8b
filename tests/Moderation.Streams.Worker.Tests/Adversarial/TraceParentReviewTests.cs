using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>
/// An upload's <c>traceparent</c> header reaches its decision's headers only as a valid W3C trace context written by
/// the worker. Where no span is recorded (a replay, which runs without a tracer; any pipeline without a listener), the
/// upload's header used to be copied byte for byte: CR, LF and ESC, a forged second header line, or 200 KB of it.
/// </summary>
public sealed class TraceParentReviewTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly Regex W3C = new("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", RegexOptions.CultureInvariant);

    [Fact]
    public async Task A_replayed_decision_never_carries_the_uploads_traceparent_as_it_came()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("t.png", SampleImages.Png(31, 64, 64));
        const string valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var hostile = new Dictionary<string, string>
        {
            ["crlf"] = valid + "\r\nmoderation.action: allow\u001b[2K",
            ["huge"] = valid + new string('a', 200_000),
            ["garbage"] = "not a trace context\n",
            ["valid"] = valid,
        };
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var (id, traceparent) in hostile)
                producer.Produce(Topics.Uploads, new Message<string, byte[]>
                {
                    Key = id, Value = EmbeddedStack.Upload(id, url),
                    Headers = new Headers { { "traceparent", Encoding.ASCII.GetBytes(traceparent) } },
                });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        var settings = new ScreeningSettings(
            new KafkaOptions { BootstrapServers = stack.Broker.BootstrapServers },
            new ScreeningOptions(),
            new MediaOptions { Root = stack.MediaRoot.FullName },
            new RedisOptions(),
            new BankMatcherOptions());

        var report = await ReplayJob.RunAsync(settings, new ReplayRequest { From = new ReplayBound.Earliest() }, NullLogger.Instance, null, Ct);

        Assert.True(report.Result.Completed, report.Result.Error);
        var decisions = ReadBackfill(stack, hostile.Count);
        Assert.Equal(hostile.Keys.Order(), decisions.Select(d => d.Key.Id).Order());
        foreach (var (key, headers) in decisions)
        {
            Assert.NotEqual(ReplayTopics.Dlq, key.Topic);
            if (!headers.TryGetLastBytes("traceparent", out var bytes)) continue; // none is fine
            var traceparent = Encoding.ASCII.GetString(bytes);
            Assert.Matches(W3C, traceparent);
            if (key.Id is "valid" or "crlf" or "huge") Assert.True(traceparent.Length == valid.Length);
        }
        var kept = decisions.Single(d => d.Key.Id == "valid").Headers;
        Assert.True(kept.TryGetLastBytes("traceparent", out var ok));
        Assert.StartsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-", Encoding.ASCII.GetString(ok)); // a valid context still travels
    }

    private static List<((string Topic, string Id) Key, Headers Headers)> ReadBackfill(EmbeddedStack stack, int count)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = stack.Broker.BootstrapServers }).Build();
        string[] topics = [ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, ReplayTopics.Dlq];
        var partitions = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Where(t => topics.Contains(t.Topic))
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList();
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig { BootstrapServers = stack.Broker.BootstrapServers, GroupId = "reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false }).Build();
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var records = new List<((string, string), Headers)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // bounds a hang only
        while (records.Count < count && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r)
                records.Add(((r.Topic, r.Message.Key!), r.Message.Headers));
        return records;
    }
}
