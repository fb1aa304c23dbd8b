using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>Delivery semantics of the consume loop on the embedded broker, with a scripted handler standing in
/// for the screening pipeline (the worker tests run the real one).</summary>
public sealed class UploadConsumerTests : IDisposable
{
    private const int Partitions = 3;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly EmbeddedKafkaBroker _broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = Partitions });

    public void Dispose() => _broker.Dispose();

    private KafkaOptions Options(Action<KafkaOptions>? configure = null)
    {
        var options = new KafkaOptions
        {
            BootstrapServers = _broker.BootstrapServers,
            GroupId = "g-" + Guid.NewGuid().ToString("N")[..8],
            SessionTimeoutMs = 6000,
            ShutdownTimeout = TimeSpan.FromSeconds(20),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Publishes one decision per upload (value = the upload's key) after an optional per-upload delay.</summary>
    private sealed class ScriptedHandler(KafkaOptions options, Func<string, Task>? before = null) : IUploadHandler
    {
        private int _running;
        public int MaxConcurrent;
        public ConcurrentBag<string> Seen { get; } = [];

        public async Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            var key = Encoding.UTF8.GetString(upload.Message.Key!);
            var now = Interlocked.Increment(ref _running);
            InterlockedMax(ref MaxConcurrent, now);
            try
            {
                Seen.Add(key);
                if (before is not null) await before(key);
                return [new OutboundMessage(options.AllowTopic, upload.Message.Key, Encoding.UTF8.GetBytes(key), new Headers())];
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current;
            while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current) { }
        }
    }

    private void Produce(int count, string prefix = "u")
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, EnableIdempotence = true }).Build();
        for (int i = 0; i < count; i++) producer.Produce(Topics.Uploads, new Message<string, string> { Key = $"{prefix}-{i:D5}", Value = "{}" });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private List<string> ReadKeys(string topic, int atLeast, IsolationLevel isolation = IsolationLevel.ReadUncommitted)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _broker.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            IsolationLevel = isolation,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var keys = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        DateTime? settle = null;
        while (DateTime.UtcNow < (settle ?? deadline))
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is not null) keys.Add(r.Message.Key);
            if (keys.Count >= atLeast && settle is null) settle = DateTime.UtcNow.AddMilliseconds(700);
        }
        return keys;
    }

    private List<(long Committed, long High)> Committed(string groupId)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = _broker.BootstrapServers, GroupId = groupId }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Topics.Uploads, p)).ToList();
        var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(10));
        return partitions.Select((p, i) => (committed[i].Offset.Value, consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value)).ToList();
    }

    [Fact]
    public async Task Uploads_finishing_out_of_order_all_get_one_outcome_and_the_group_commits_to_the_end()
    {
        var options = Options();
        // Even keys take longer: later uploads overtake earlier ones in every partition.
        var handler = new ScriptedHandler(options, key => Task.Delay(int.Parse(key[^1..]) % 2 == 0 ? 30 : 0));
        Produce(200);
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
        {
            Assert.Equal(0, consumer.AssignmentChanges);
            await Eventually.RunUntil(consumer, () => consumer.Published >= 200 && consumer.InFlight == 0);
            Assert.True(consumer.AssignmentChanges >= 1, "joining the group is an assignment the member counts");
        }

        var keys = ReadKeys(Topics.Allow, 200);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"u-{i:D5}"), keys.Order());
        Assert.All(Committed(options.GroupId), p => Assert.Equal(p.High, p.Committed));
    }

    [Fact]
    public async Task A_handler_that_throws_costs_one_internal_dlq_record_and_the_partition_keeps_moving()
    {
        var options = Options();
        var handler = new ScriptedHandler(options, key => key == "u-00007" ? throw new InvalidOperationException("boom") : Task.CompletedTask);
        Produce(30);
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
            await Eventually.RunUntil(consumer, () => consumer.Published >= 30 && consumer.InFlight == 0);

        Assert.Equal(29, ReadKeys(Topics.Allow, 29).Count);
        Assert.Equal(["u-00007"], ReadKeys(Topics.Dlq, 1));
        Assert.All(Committed(options.GroupId), p => Assert.Equal(p.High, p.Committed));
    }

    [Fact]
    public async Task In_flight_uploads_are_bounded_by_pausing_partitions_while_the_loop_keeps_polling()
    {
        var options = Options(o => o.MaxInFlight = 4);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new ScriptedHandler(options, _ => gate.Task);
        Produce(40);
        using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), Ct);
        Assert.True(await Eventually.Holds(() => consumer.PausedPartitions > 0, run), "partitions were never paused");
        Assert.Equal(4, consumer.InFlight);

        gate.SetResult();
        await Eventually.Holds(() => consumer.Published >= 40, run);
        await stop.CancelAsync();
        await run;
        Assert.True(handler.MaxConcurrent <= 4, $"{handler.MaxConcurrent} uploads ran at once");
        Assert.Equal(40, ReadKeys(Topics.Allow, 40).Count);
    }

    [Fact]
    public async Task A_partition_whose_work_is_held_back_behind_one_slow_upload_stops_fetching_at_the_in_flight_limit()
    {
        // One upload never finishes until released: everything after it in its partition finishes but cannot commit,
        // which is what a crash would re-screen. The in-flight count alone never sees it (one upload is unfinished).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = Options(o => o.MaxInFlight = 8);
        var handler = new ScriptedHandler(options, key => key == "u-00000" ? release.Task : Task.CompletedTask);
        Produce(90);
        using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), Ct);

        Assert.True(await Eventually.Holds(() => consumer.PausedPartitions == 1 && consumer.InFlight == 1 && consumer.Consumed >= 90 - 30, run),
            $"{consumer.PausedPartitions} paused, {consumer.Consumed} consumed");
        long consumed = consumer.Consumed;
        Assert.True(consumed < 90, $"all {consumed} consumed behind a stuck upload");

        release.SetResult();
        Assert.True(await Eventually.Holds(() => consumer.Published >= 90, run), $"{consumer.Published} published");
        await stop.CancelAsync();
        await run;
        Assert.All(Committed(options.GroupId), p => Assert.Equal(p.High, p.Committed));
    }

    [Fact]
    public async Task Stopping_drains_in_flight_uploads_and_commits_them()
    {
        var options = Options();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new ScriptedHandler(options, async _ => { started.TrySetResult(); await release.Task; });
        Produce(10);
        using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await stop.CancelAsync(); // like SIGTERM: stop fetching, finish what is in flight
        release.SetResult();
        await run.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        // Everything received before the stop (at least the one that started) was finished, published and committed.
        var dispatched = consumer.Consumed;
        Assert.True(dispatched >= 1);
        Assert.Equal(dispatched, consumer.Published);
        Assert.Equal(dispatched, Committed(options.GroupId).Sum(p => p.Committed < 0 ? 0 : p.Committed));
    }

    [Fact]
    public async Task Produce_errors_the_broker_reports_as_retriable_lose_nothing_and_duplicate_nothing()
    {
        var options = Options();
        var handler = new ScriptedHandler(options);
        Produce(60);
        _broker.InjectRequestErrors(0, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas);
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
            await Eventually.RunUntil(consumer, () => consumer.Published >= 60 && consumer.InFlight == 0);

        Assert.Equal(Enumerable.Range(0, 60).Select(i => $"u-{i:D5}"), ReadKeys(Topics.Allow, 60).Order());
    }

    [Fact]
    public async Task A_decision_the_broker_refuses_for_good_stops_the_pipeline_without_committing_past_it()
    {
        var options = Options(o => o.Properties["message.timeout.ms"] = "3000");
        var handler = new ScriptedHandler(options);
        Produce(1);
        _broker.InjectRequestErrors(0, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 50).ToArray());
        using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => consumer.RunAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Contains("pipeline failed", failure.Message);
        Assert.All(Committed(options.GroupId), p => Assert.True(p.Committed <= 0, $"committed {p.Committed}"));
    }

    [Fact]
    public async Task Exactly_once_mode_publishes_every_outcome_once_inside_committed_transactions()
    {
        var options = Options(o =>
        {
            o.Mode = DeliveryModes.ExactlyOnce;
            o.TransactionalId = "tx-" + Guid.NewGuid().ToString("N")[..8];
            o.TransactionInterval = TimeSpan.FromMilliseconds(50);
        });
        var handler = new ScriptedHandler(options, key => Task.Delay(int.Parse(key[^1..]) % 3 == 0 ? 20 : 0));
        Produce(120);
        long transactions;
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
        {
            await Eventually.RunUntil(consumer, () => consumer.Published >= 120 && consumer.InFlight == 0);
            transactions = consumer.TransactionsCommitted;
        }

        Assert.True(transactions >= 1);
        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"u-{i:D5}"), ReadKeys(Topics.Allow, 120, IsolationLevel.ReadCommitted).Order());
    }

    [Fact]
    public async Task Every_outcome_carries_a_decision_id_that_a_redelivery_of_the_same_upload_repeats()
    {
        // Every fifth upload fails in the handler: its internal DLQ record is the consume loop's own, and carries an id too.
        Produce(20);
        async Task ScreenAsync()
        {
            var options = Options();
            var handler = new ScriptedHandler(options, key => key.EndsWith('0') || key.EndsWith('5') ? throw new InvalidOperationException("boom") : Task.CompletedTask);
            using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
            await Eventually.RunUntil(consumer, () => consumer.Published >= 20);
        }
        await ScreenAsync();
        // A second group screens the same offsets again: what a redelivery after a crash does.
        await ScreenAsync();

        var ids = ReadRecords([Topics.Allow, Topics.Dlq], 40);
        Assert.Equal(40, ids.Count);
        Assert.All(ids, r => Assert.Matches("^[0-9a-f]{32}$", r.Id));
        Assert.Equal(8, ids.Count(r => r.Topic == Topics.Dlq));
        // Each upload's two outcomes share one id; no two uploads share one.
        Assert.All(ids.GroupBy(r => r.Key), g => Assert.Single(g.Select(r => r.Id).Distinct()));
        Assert.Equal(20, ids.Select(r => r.Id).Distinct().Count());
    }

    private List<(string Topic, string Key, string Id)> ReadRecords(string[] topics, int atLeast)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _broker.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
        }).Build();
        consumer.Assign(topics.SelectMany(t => Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))));
        var records = new List<(string, string, string)>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        DateTime? settle = null;
        while (DateTime.UtcNow < (settle ?? deadline))
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is not null)
                records.Add((r.Topic, r.Message.Key, r.Message.Headers.TryGetLastBytes(DecisionId.Header, out var id) ? Encoding.ASCII.GetString(id) : ""));
            if (records.Count >= atLeast && settle is null) settle = DateTime.UtcNow.AddMilliseconds(700);
        }
        return records;
    }

    [Fact]
    public async Task Finished_offsets_are_committed_once_the_commit_interval_has_passed_on_the_injected_clock_and_not_before()
    {
        var time = new FakeTimeProvider();
        var options = Options(o => o.CommitInterval = TimeSpan.FromMinutes(1));
        Produce(30);
        using var consumer = new UploadConsumer(options, new ScriptedHandler(options), ConsoleTestLogger.Instance, time);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), Ct);

        // Every outcome is acknowledged and every offset stored; the clock has not moved, so nothing is committed yet.
        Assert.True(await Eventually.Holds(() => consumer.Published >= 30 && consumer.InFlight == 0, run), $"{consumer.Published} published");
        Assert.All(Committed(options.GroupId), p => Assert.True(p.Committed < 0, $"committed {p.Committed} before the interval"));

        time.Advance(options.CommitInterval - TimeSpan.FromMilliseconds(1));
        Assert.True(await Eventually.Holds(() => consumer.Consumed >= 30, run));
        Assert.All(Committed(options.GroupId), p => Assert.True(p.Committed < 0, $"committed {p.Committed} before the interval"));

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await Eventually.Holds(() => Committed(options.GroupId).All(p => p.Committed == p.High), run), "not committed one interval after");
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Exactly_once_mode_commits_the_open_transaction_when_its_interval_has_passed_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        var options = Options(o =>
        {
            o.Mode = DeliveryModes.ExactlyOnce;
            o.TransactionalId = "tx-" + Guid.NewGuid().ToString("N")[..8];
            o.TransactionInterval = TimeSpan.FromMinutes(1);
        });
        Produce(30);
        using var consumer = new UploadConsumer(options, new ScriptedHandler(options), ConsoleTestLogger.Instance, time);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), Ct);

        // Every outcome is acknowledged inside the open transaction; the clock has not moved, so it stays open.
        Assert.True(await Eventually.Holds(() => consumer.Published >= 30, run), $"{consumer.Published} published");
        Assert.Equal((0L, 0L), (consumer.TransactionsCommitted, consumer.UploadsCommitted));

        time.Advance(options.TransactionInterval);
        Assert.True(await Eventually.Holds(() => consumer.UploadsCommitted >= 30, run), $"{consumer.UploadsCommitted} committed");
        Assert.Equal((1L, 30L), (consumer.TransactionsCommitted, consumer.UploadsCommitted));
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Exactly_once_mode_aborts_a_failed_transaction_and_rescreens_from_the_last_commit_without_loss()
    {
        var options = Options(o =>
        {
            o.Mode = DeliveryModes.ExactlyOnce;
            o.TransactionalId = "tx-" + Guid.NewGuid().ToString("N")[..8];
            o.TransactionInterval = TimeSpan.FromMilliseconds(50);
        });
        var handler = new ScriptedHandler(options);
        Produce(50);
        // A produce inside the first transaction is refused for good: the transaction must be aborted.
        _broker.InjectRequestErrors(0, ErrorCode.TopicAuthorizationFailed);
        long aborted;
        using (var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance))
        {
            await Eventually.RunUntil(consumer, () => consumer.TransactionsAborted > 0 && consumer.UploadsCommitted >= 50);
            aborted = consumer.TransactionsAborted;
        }
        var keys = ReadKeys(Topics.Allow, 50, IsolationLevel.ReadUncommitted);
        Assert.True(aborted >= 1, "no transaction was aborted");
        // Every upload is present; the aborted transaction's copies are there too, because the embedded broker
        // does not hide aborted records from read_committed readers (a real broker does: see README).
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"u-{i:D5}"), keys.Distinct().Order());
    }

    [Fact]
    public async Task A_fenced_producer_stops_the_pipeline_instead_of_committing_as_a_zombie()
    {
        // The embedded broker does not fence by epoch itself (a real broker does when a newer instance
        // initialises the same transactional id); it can answer EndTxn with the error a fenced producer gets.
        var options = Options(o => { o.Mode = DeliveryModes.ExactlyOnce; o.TransactionalId = "tx-" + Guid.NewGuid().ToString("N")[..8]; });
        Produce(5);
        _broker.InjectRequestErrors(26, ErrorCode.ProducerFenced);
        using var zombie = new UploadConsumer(options, new ScriptedHandler(options), ConsoleTestLogger.Instance);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => zombie.RunAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Contains("pipeline failed", failure.Message);
        Assert.Equal(0, zombie.UploadsCommitted);
    }
}
