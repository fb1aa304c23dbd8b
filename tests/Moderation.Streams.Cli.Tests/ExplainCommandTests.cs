using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation explain CONTENT_ID</c>: every record for the id on the decision topics and the DLQ, read back
/// as published, with its reasons, scores, versions and source; exit 1 when there is none.</summary>
public sealed class ExplainCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DecisionEvent Decision(string id, string action, IReadOnlyList<DecisionReason> reasons, string policy, long offset) => new()
    {
        ContentId = id,
        Action = action,
        Reasons = reasons,
        Scores = new Dictionary<string, float> { ["drawing"] = 0.01f, ["hentai"] = 0.02f, ["neutral"] = 0.05f, ["porn"] = 0.91f, ["sexy"] = 0.01f },
        Pdq = new PdqInfo(new string('a', 64), 88),
        PolicyVersion = policy,
        ModelVersion = "nsfw-mobilenet-v2@1",
        DecidedAt = DateTimeOffset.UnixEpoch.AddDays(20_000),
        LatencyMs = 42,
        Source = new SourceInfo(Topics.Uploads, 1, offset),
    };

    [Fact]
    public async Task Every_record_of_the_id_is_shown_with_reasons_scores_versions_and_source_and_others_are_not()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 2 });
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            void Publish(string topic, string key, byte[] value, Headers? headers = null) =>
                producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = value, Headers = headers });
            for (int i = 0; i < 30; i++) // neighbours on the same topics
                Publish(Topics.Allow, $"other-{i}", Decision($"other-{i}", Actions.Allow, [], "p1", 100 + i).ToUtf8Json());
            Publish(Topics.Takedown, "c-1", Decision("c-1", Actions.Takedown,
                [new DecisionReason { Source = "model", Model = "nsfw-mobilenet-v2@1", Label = "porn", Score = 0.91f, Threshold = 0.9f },
                 new DecisionReason { Source = "bank", Bank = "known-bad", MatchId = "kb-7", Distance = 4 }], "p1", 7).ToUtf8Json());
            Publish(Topics.Review, "c-1", Decision("c-1", Actions.Review,
                [new DecisionReason { Source = "text", Field = "caption", Kind = "term", Bank = "scams", Id = "t-1", Category = "scam", Start = 0, End = 11 }], "p2", 9).ToUtf8Json());
            // A record anyone with write access could have made: control characters must not reach the terminal.
            Publish(Topics.Allow, "c-1", (Decision("c-1", Actions.Allow, [], "p3", 11) with { PolicyVersion = "p3\u001b[2J\nforged line" }).ToUtf8Json());
            Publish(Topics.Dlq, "c-1", Encoding.UTF8.GetBytes("{\"content_id\":\"c-1\""), new Headers
            {
                { DlqHeaders.ErrorCode, "invalid-event"u8.ToArray() }, { DlqHeaders.ErrorMessage, "truncated JSON"u8.ToArray() },
                { DlqHeaders.SourceTopic, "uploads"u8.ToArray() }, { DlqHeaders.SourcePartition, "0"u8.ToArray() }, { DlqHeaders.SourceOffset, "12"u8.ToArray() },
            });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        using var text = await CliProcess.RunAsync(["explain", "c-1", "--kafka", broker.BootstrapServers, "--timeout", "60"], deadline: TimeSpan.FromSeconds(90), ct: Ct);
        Assert.True(await text.WaitForExitAsync(TimeSpan.FromSeconds(90), Ct) == ExitCodes.Ok, text.Transcript());
        var lines = text.StdoutLines;
        Assert.DoesNotContain(lines, l => l.Contains("other-", StringComparison.Ordinal));
        Assert.Matches(@"^moderation\.decisions\.takedown\[[01]\]@0 \S+ takedown: policy p1, model nsfw-mobilenet-v2@1, decided \S+ in 42 ms$", lines.Single(l => l.StartsWith("moderation.decisions.takedown", StringComparison.Ordinal)));
        Assert.Contains("  reason: model nsfw-mobilenet-v2@1: porn 0.91 >= 0.9", lines);
        Assert.Contains("  reason: bank known-bad: entry kb-7 at distance 4", lines);
        Assert.Contains("  reason: text: caption matches term bank scams entry t-1 (scam) at 0-11", lines);
        Assert.Contains("  scores: drawing 0.01, hentai 0.02, neutral 0.05, porn 0.91, sexy 0.01", lines);
        Assert.Contains("  source: uploads[1]@7", lines);
        Assert.Contains("  source: uploads[1]@9", lines);
        Assert.Contains(lines, l => l.StartsWith("moderation.decisions.review[", StringComparison.Ordinal) && l.Contains(" review: policy p2,", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("moderation.dlq[", StringComparison.Ordinal) && l.EndsWith(" dlq: invalid-event: truncated JSON", StringComparison.Ordinal));
        Assert.Contains("  source: uploads[0]@12", lines);
        Assert.DoesNotContain(lines, l => l.Contains('\u001b') || l.StartsWith("forged", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("moderation.decisions.allow[", StringComparison.Ordinal) && l.Contains(" allow: policy p3", StringComparison.Ordinal));

        using var json = await CliProcess.RunAsync(["explain", "c-1", "--kafka", broker.BootstrapServers, "--json"], deadline: TimeSpan.FromSeconds(90), ct: Ct);
        Assert.True(await json.WaitForExitAsync(TimeSpan.FromSeconds(90), Ct) == ExitCodes.Ok, json.Transcript());
        var records = json.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, records.Count);
        var takedown = records.Single(r => r.GetProperty("topic").GetString() == Topics.Takedown).GetProperty("decision");
        Assert.Equal("c-1", takedown.GetProperty("content_id").GetString());
        Assert.Equal(2, takedown.GetProperty("reasons").GetArrayLength());
        Assert.Equal(7, takedown.GetProperty("source").GetProperty("offset").GetInt64());
        var dlq = records.Single(r => r.GetProperty("topic").GetString() == Topics.Dlq).GetProperty("dlq");
        Assert.Equal("invalid-event", dlq.GetProperty("code").GetString());

        using var none = await CliProcess.RunAsync(["explain", "never-uploaded", "--kafka", broker.BootstrapServers], deadline: TimeSpan.FromSeconds(90), ct: Ct);
        Assert.Equal(ExitCodes.Failure, await none.WaitForExitAsync(TimeSpan.FromSeconds(90), Ct));
        Assert.Empty(none.StdoutLines);
        Assert.StartsWith("moderation explain: no record for never-uploaded in moderation.decisions.takedown, ", none.StderrLines[^1], StringComparison.Ordinal);
        Assert.Contains("(34 records read)", none.StderrLines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_id_is_a_usage_error_and_an_unreachable_broker_fails_in_one_line()
    {
        using var bad = await CliProcess.RunAsync(["explain", "a b"], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await bad.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation explain: CONTENT_ID must be", Assert.Single(bad.StderrLines), StringComparison.Ordinal);

        using var down = await CliProcess.RunAsync(["explain", "c-1", "--kafka", "127.0.0.1:1", "--timeout", "3"], ct: Ct);
        Assert.Equal(ExitCodes.Failure, await down.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation explain: Kafka at 127.0.0.1:1 unavailable within 3 s: ", Assert.Single(down.StderrLines), StringComparison.Ordinal);
        Assert.Empty(down.StdoutLines);
    }
}
