using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>
/// No single record can stop a partition: hostile uploads (huge headers, a huge key, forged worker headers) and
/// outcomes the broker refuses each cost one DLQ record (or a stub standing in for it) on the embedded broker,
/// their neighbours are decided, and the group commits to the end.
/// </summary>
public sealed class PoisonRecordTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly PoisonHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    /// <summary>Keys <c>poison*</c> are invalid (a DLQ record built by <see cref="DeadLetter.Create(string, ConsumeResult{byte[], byte[]}, string, string, int, int)"/>),
    /// <c>big*</c> get a decision of <paramref name="bigDecisionBytes"/> bytes, the rest a small decision.</summary>
    private sealed class Handler(KafkaOptions options, int bigDecisionBytes = 0) : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            var key = upload.Message.Key is null ? "" : Encoding.UTF8.GetString(upload.Message.Key);
            if (key.StartsWith("poison", StringComparison.Ordinal))
                return Task.FromResult<IReadOnlyList<OutboundMessage>>([DeadLetter.Create(options.DlqTopic, upload, ErrorCodes.InvalidEvent, "not an upload event")]);
            var value = key.StartsWith("big", StringComparison.Ordinal) ? new byte[bigDecisionBytes] : Encoding.UTF8.GetBytes(key);
            return Task.FromResult<IReadOnlyList<OutboundMessage>>([new OutboundMessage(options.AllowTopic, upload.Message.Key, value, new Headers())]);
        }
    }

    private static Headers TwoHugeHeaders(int bytes = 74 * 1024)
    {
        var headers = new Headers { { "x-big-1", new byte[bytes] }, { "x-big-2", new byte[bytes] } };
        return headers;
    }

    private async Task<(List<PoisonHarness.Published> Allow, List<PoisonHarness.Published> Dlq)> ScreenAsync(KafkaOptions options, IUploadHandler handler, int expected)
    {
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
            await Eventually.RunUntil(consumer, () => consumer.Consumed >= expected && consumer.InFlight == 0 && _harness.Committed(options.GroupId).Committed >= expected);
        return (_harness.Read(options.AllowTopic), _harness.Read(options.DlqTopic));
    }

    [Fact]
    public async Task An_invalid_upload_with_two_74_kB_headers_and_a_large_value_costs_one_dlq_record_and_the_partition_moves_on()
    {
        var options = _harness.Options();
        // 1,041,000 bytes: a real broker takes it (1 MiB by default); copied as it is, its DLQ record is over the
        // worker's producer limit (1,000,000 bytes by default) and, before the fix, stopped the partition.
        _harness.Produce([
            PoisonHarness.Good("good-0"),
            new() { Key = "poison-1"u8.ToArray(), Value = new byte[890_000], Headers = TwoHugeHeaders() },
            PoisonHarness.Good("good-2"),
        ]);

        var (allow, dlq) = await ScreenAsync(options, new Handler(options), 3);

        Assert.Equal(["good-0", "good-2"], allow.Select(r => r.KeyText).Order());
        var record = Assert.Single(dlq);
        Assert.Equal("poison-1", record.KeyText);
        Assert.Equal(890_000, record.Value.Length); // the original bytes, unchanged: they fit
        Assert.Equal(ErrorCodes.InvalidEvent, record.FirstHeader(DlqHeaders.ErrorCode));
        Assert.Equal(("uploads", "0", "1"), (record.Header(DlqHeaders.SourceTopic), record.Header(DlqHeaders.SourcePartition), record.Header(DlqHeaders.SourceOffset)));
        // One of the two headers fits next to the value, the other is dropped and counted.
        Assert.Equal("1", record.Header(DeadLetter.HeadersDroppedHeader));
        Assert.Single(record.Headers, h => h.Key.StartsWith(DeadLetter.OriginalHeaderPrefix + "x-big-", StringComparison.Ordinal));
        Assert.True(record.Size < KafkaOptions.DefaultMessageMaxBytes, $"{record.Size} bytes");
        Assert.Equal((3L, 3L), _harness.Committed(options.GroupId));
    }

    [Fact]
    public async Task An_upload_with_a_huge_key_gets_a_dlq_record_with_the_key_cut_and_its_size_in_a_header()
    {
        var options = _harness.Options();
        var key = Encoding.UTF8.GetBytes("poison-" + new string('k', 599_993));
        _harness.Produce([PoisonHarness.Good("good-0"), new() { Key = key, Value = new byte[450_000] }, PoisonHarness.Good("good-2")]);

        var (allow, dlq) = await ScreenAsync(options, new Handler(options), 3);

        Assert.Equal(["good-0", "good-2"], allow.Select(r => r.KeyText).Order());
        var record = Assert.Single(dlq);
        Assert.Equal(key[..DeadLetter.MaxKeyBytes], record.Key);
        Assert.Equal("600000", record.Header(DeadLetter.KeyTruncatedHeader));
        Assert.Equal(450_000, record.Value.Length);
        Assert.Equal((3L, 3L), _harness.Committed(options.GroupId));
    }

    [Fact]
    public async Task Forged_worker_headers_on_an_upload_reach_the_dlq_only_under_the_original_prefix()
    {
        var options = _harness.Options();
        var forged = new Headers
        {
            { DlqHeaders.ErrorCode, "forged"u8.ToArray() },
            { DlqHeaders.SourceOffset, "999"u8.ToArray() },
            { DeadLetter.TruncatedHeader, "123"u8.ToArray() },
            { "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"u8.ToArray() },
        };
        _harness.Produce([new() { Key = "poison-0"u8.ToArray(), Value = "{"u8.ToArray(), Headers = forged }]);

        var (_, dlq) = await ScreenAsync(options, new Handler(options), 1);

        var record = Assert.Single(dlq);
        // Whoever reads the first or the last header gets the worker's own.
        Assert.Equal([ErrorCodes.InvalidEvent], record.Headers.Where(h => h.Key == DlqHeaders.ErrorCode).Select(h => Encoding.UTF8.GetString(h.GetValueBytes())));
        Assert.Equal(["0"], record.Headers.Where(h => h.Key == DlqHeaders.SourceOffset).Select(h => Encoding.UTF8.GetString(h.GetValueBytes())));
        Assert.Null(record.Header(DeadLetter.TruncatedHeader));
        Assert.Equal("forged", record.Header(DeadLetter.OriginalHeaderPrefix + DlqHeaders.ErrorCode));
        Assert.Equal("123", record.Header(DeadLetter.OriginalHeaderPrefix + DeadLetter.TruncatedHeader));
        Assert.NotNull(record.Header(DeadLetter.OriginalHeaderPrefix + "traceparent"));
    }

    [Fact]
    public async Task A_decision_over_the_producers_message_max_bytes_is_replaced_by_a_stub_dlq_record_and_the_partition_moves_on()
    {
        var options = _harness.Options(o => o.Properties["message.max.bytes"] = "100000");
        _harness.Produce([PoisonHarness.Good("good-0"), PoisonHarness.Good("big-1"), PoisonHarness.Good("good-2")]);

        var (allow, dlq) = await ScreenAsync(options, new Handler(options, bigDecisionBytes: 150_000), 3);

        Assert.Equal(["good-0", "good-2"], allow.Select(r => r.KeyText).Order());
        var stub = Assert.Single(dlq);
        Assert.Equal("big-1", stub.KeyText);
        Assert.Equal("1", stub.Header(DeadLetter.StubHeader));
        Assert.Equal(ErrorCodes.Internal, stub.Header(DlqHeaders.ErrorCode));
        Assert.Contains("could not be stored", stub.Header(DlqHeaders.ErrorMessage));
        Assert.Equal("1", stub.Header(DlqHeaders.SourceOffset));
        Assert.Empty(stub.Value);
        Assert.Equal((3L, 3L), _harness.Committed(options.GroupId));
    }

    [Fact]
    public async Task Records_the_broker_refuses_as_too_large_are_replaced_by_stub_dlq_records_and_every_upload_commits()
    {
        var options = _harness.Options();
        _harness.Produce(Enumerable.Range(0, 20).Select(i => PoisonHarness.Good($"good-{i:D2}")));
        // The broker answers the worker's first produce request with MESSAGE_TOO_LARGE (its topic limit can be lower
        // than the producer's): every record of that request fails in its delivery report.
        _harness.Broker.InjectRequestErrors(0, ErrorCode.MsgSizeTooLarge);

        var (allow, dlq) = await ScreenAsync(options, new Handler(options), 20);

        Assert.NotEmpty(dlq);
        Assert.All(dlq, stub => Assert.Equal("1", stub.Header(DeadLetter.StubHeader)));
        Assert.All(dlq, stub => Assert.Contains("too large", stub.Header(DlqHeaders.ErrorMessage), StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"good-{i:D2}"), allow.Concat(dlq).Select(r => r.KeyText).Order());
        Assert.Equal((20L, 20L), _harness.Committed(options.GroupId));
    }

    [Fact]
    public async Task In_exactly_once_mode_records_the_broker_refused_in_an_aborted_transaction_are_replaced_by_stubs_when_released_again()
    {
        var options = _harness.Options(o =>
        {
            o.Mode = DeliveryModes.ExactlyOnce;
            o.TransactionalId = "tx-" + Guid.NewGuid().ToString("N")[..8];
            o.TransactionInterval = TimeSpan.FromMilliseconds(50);
        });
        _harness.Produce(Enumerable.Range(0, 20).Select(i => PoisonHarness.Good($"good-{i:D2}")));
        // The first produce request is refused as too large: the transaction aborts and the partition is screened
        // again. Against a real broker the same records would be refused again, forever: they go as stubs instead.
        _harness.Broker.InjectRequestErrors(0, ErrorCode.MsgSizeTooLarge);

        long aborted, stubs;
        using (var consumer = new UploadConsumer(options, new Handler(options), ConsoleTestLogger.Instance))
        {
            await Eventually.RunUntil(consumer, () => consumer.UploadsCommitted >= 20);
            (aborted, stubs) = (consumer.TransactionsAborted, consumer.Stubs);
        }

        Assert.True(aborted >= 1, "no transaction was aborted");
        Assert.True(stubs >= 1, "no stub replaced a refused record");
        var dlq = _harness.Read(options.DlqTopic);
        // `Stubs` counts stubs made. On a loaded machine the transaction carrying one can abort too (it timed out and
        // was fenced, seen once in CI); its upload is then screened again and, the broker no longer refusing, allowed:
        // nothing lost, one stub fewer on the topic. Without a second abort the stub must be there.
        Assert.InRange(dlq.Count, 0, stubs);
        Assert.True(dlq.Count >= 1 || aborted >= 2, $"{stubs} stub(s) made, none on the DLQ topic, {aborted} transaction(s) aborted");
        Assert.All(dlq, stub => Assert.Equal("1", stub.Header(DeadLetter.StubHeader)));
        // Every upload is there, decided or stubbed (the embedded broker also shows the aborted copies: Distinct).
        var allow = _harness.Read(options.AllowTopic).Select(r => r.KeyText).Distinct();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"good-{i:D2}"), allow.Union(dlq.Select(r => r.KeyText)).Order());
    }

    [Fact]
    public async Task When_the_stub_is_refused_too_the_pipeline_stops_without_committing_past_the_upload()
    {
        var options = _harness.Options(o => o.Properties["message.timeout.ms"] = "3000");
        _harness.Produce([PoisonHarness.Good("good-0")]);
        _harness.Broker.InjectRequestErrors(0, Enumerable.Repeat(ErrorCode.MsgSizeTooLarge, 50).ToArray());

        using var consumer = new UploadConsumer(options, new Handler(options), ConsoleTestLogger.Instance);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => consumer.RunAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct));

        Assert.Contains("pipeline failed", failure.Message);
        Assert.True(_harness.Committed(options.GroupId).Committed <= 0);
    }
}
