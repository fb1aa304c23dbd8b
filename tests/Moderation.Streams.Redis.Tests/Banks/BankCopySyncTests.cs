using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests.Banks;

/// <summary>The sync loop the text and digest bank copies share, against a store in memory: only the banks whose version
/// moved are loaded, a failed load changes nothing, a wiped or rolled-back store is read again whole, and the one
/// exception rule (the loop survives everything but its own stop; the store unreachable is a warning, anything else an
/// error).</summary>
public sealed class BankCopySyncTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BankMatcherOptions Options => new() { RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) };

    /// <summary>A bank as loaded: which bank, at which version of the store's content.</summary>
    private sealed record Loaded(string Name, string Content);

    /// <summary>Banks in memory with versions, an epoch, and a count of the loads of each bank.</summary>
    private sealed class Store : IBankCopySource<Loaded>
    {
        private readonly Lock _gate = new();
        private Action? _changed;
        public string? Epoch = "e1";
        public readonly Dictionary<string, (long Version, string Content)> Banks = new(StringComparer.Ordinal);
        // Version keys: a deletion keeps counting; a wipe loses them.
        public readonly Dictionary<string, long> VersionKeys = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, int> Loads = new(StringComparer.Ordinal);
        public Func<string, Exception?> FailLoad = _ => null;
        public Exception? FailState;

        public void Write(string bank, string content)
        {
            lock (_gate)
            {
                long v = VersionKeys.GetValueOrDefault(bank) + 1;
                VersionKeys[bank] = v;
                Banks[bank] = (v, content);
            }
            _changed?.Invoke();
        }

        public void Delete(string bank)
        {
            lock (_gate)
            {
                Banks.Remove(bank);
                VersionKeys[bank] = VersionKeys.GetValueOrDefault(bank) + 1;
            }
            _changed?.Invoke();
        }

        public void Signal() => _changed?.Invoke();

        public bool Subscribed => _changed is not null;

        public int SubscribeFailures;

        public Task SubscribeAsync(Action changed)
        {
            if (SubscribeFailures > 0)
            {
                SubscribeFailures--;
                return Task.FromException(new RedisException("no pub/sub yet"));
            }
            _changed = changed;
            return Task.CompletedTask;
        }

        public Task UnsubscribeAsync()
        {
            _changed = null;
            return Task.CompletedTask;
        }

        public int States;

        public Task<BankStoreState> GetStateAsync()
        {
            Interlocked.Increment(ref States);
            if (FailState is { } e) return Task.FromException<BankStoreState>(e);
            lock (_gate) return Task.FromResult(new BankStoreState(Epoch, Banks.ToDictionary(b => b.Key, b => b.Value.Version, StringComparer.Ordinal)));
        }

        public Task<long> GetVersionAsync(string bank)
        {
            lock (_gate) return Task.FromResult(VersionKeys.GetValueOrDefault(bank));
        }

        public Task<DateTimeOffset?> GetChangedAtAsync(string bank) => Task.FromResult<DateTimeOffset?>(null);

        public Task<IReadOnlyDictionary<string, Loaded>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, Loaded> held, CancellationToken ct)
        {
            var loaded = new Dictionary<string, Loaded>(StringComparer.Ordinal);
            foreach (var name in banks)
            {
                Loads.AddOrUpdate(name, 1, (_, n) => n + 1);
                if (FailLoad(name) is { } e) return Task.FromException<IReadOnlyDictionary<string, Loaded>>(e);
                lock (_gate)
                    if (Banks.TryGetValue(name, out var bank)) loaded[name] = new Loaded(name, bank.Content);
            }
            return Task.FromResult<IReadOnlyDictionary<string, Loaded>>(loaded);
        }
    }

    /// <summary>The store above with delta records: each write keeps one (unless <see cref="KeepRecords"/> is off), and a
    /// bank brought up to date from them is "read" as its content now, counted in <see cref="Applies"/>.</summary>
    private sealed class DeltaStore(Store store) : IBankDeltaSource<Loaded>
    {
        public readonly HashSet<(string Bank, long Version)> Records = [];
        public readonly ConcurrentDictionary<string, int> Applies = new(StringComparer.Ordinal);

        public void Write(string bank, string content)
        {
            store.Write(bank, content);
            lock (Records) Records.Add((bank, store.VersionKeys[bank]));
        }

        public Task SubscribeAsync(Action changed) => store.SubscribeAsync(changed);
        public Task UnsubscribeAsync() => store.UnsubscribeAsync();
        public Task<BankStoreState> GetStateAsync() => store.GetStateAsync();
        public Task<long> GetVersionAsync(string bank) => store.GetVersionAsync(bank);
        public Task<DateTimeOffset?> GetChangedAtAsync(string bank) => store.GetChangedAtAsync(bank);

        public Task<IReadOnlyDictionary<string, Loaded>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, Loaded> held, CancellationToken ct) =>
            store.LoadAsync(banks, held, ct);

        public Task<BankChanges?> ReadChangesAsync(string bank, Loaded held, long from, long to)
        {
            lock (Records)
                return Task.FromResult(Enumerable.Range((int)from + 1, (int)(to - from)).All(v => Records.Contains((bank, v)))
                    ? new BankChanges(new HashSet<string>(["content"]), null) : null);
        }

        public Task<Loaded?> ApplyAsync(string bank, Loaded held, BankChanges changes, CancellationToken ct)
        {
            Applies.AddOrUpdate(bank, 1, (_, n) => n + 1);
            return Task.FromResult<Loaded?>(new Loaded(bank, store.Banks[bank].Content));
        }
    }

    private sealed class LogRecorder : ILogger
    {
        public readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> All = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            All.Enqueue((logLevel, formatter(state, exception), exception));
    }

    private static BankCopySync<Loaded, IReadOnlyList<Loaded>> NewSync(Store store, ILogger? logger = null, string kind = "test", BankMatcherOptions? options = null) =>
        new(store, banks => [.. banks.Select(b => b.Value)], "Test banks", kind, options ?? Options, logger);

    [Fact]
    public async Task Only_the_banks_whose_version_moved_are_loaded_again_and_the_others_are_kept_as_they_were()
    {
        var store = new Store();
        store.Write("a", "a1");
        store.Write("b", "b1");
        await using var sync = NewSync(store);
        Assert.Null(sync.Current);
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a1", "b1"], sync.Current!.Select(b => b.Content));
        var b1 = sync.Banks["b"];

        Assert.False(await sync.SyncAsync(Ct)); // nothing moved: nothing loaded
        Assert.Equal(1, store.Loads["a"]);
        store.Write("a", "a2");
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a2", "b1"], sync.Current!.Select(b => b.Content));
        Assert.Equal((2, 1), (store.Loads["a"], store.Loads["b"]));
        Assert.Same(b1, sync.Banks["b"]);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 2, ["b"] = 1 }, sync.Versions);

        store.Write("c", "c1"); // a new bank: loaded alone
        store.Delete("a"); // deleted (its version keeps counting): dropped without a load
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["b1", "c1"], sync.Current!.Select(b => b.Content));
        Assert.Equal((2, 1, 1), (store.Loads["a"], store.Loads["b"], store.Loads["c"]));
    }

    [Fact]
    public async Task A_bank_that_fails_to_load_leaves_the_whole_copy_as_it_was()
    {
        var store = new Store();
        store.Write("a", "a1");
        store.Write("b", "b1");
        await using var sync = NewSync(store);
        await sync.SyncAsync(Ct);
        var before = sync.Current;
        store.Write("a", "a2");
        store.Write("b", "b2");
        store.FailLoad = name => name == "b" ? new InvalidDataException("bank b does not load") : null;

        await Assert.ThrowsAsync<InvalidDataException>(() => sync.SyncAsync(Ct));
        Assert.Same(before, sync.Current); // not a2 with b1: all or nothing
        Assert.Equal(new Dictionary<string, long> { ["a"] = 1, ["b"] = 1 }, sync.Versions);

        store.FailLoad = _ => null;
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a2", "b2"], sync.Current!.Select(b => b.Content));
    }

    [Fact]
    public async Task A_store_under_a_new_epoch_or_with_versions_gone_back_is_read_again_whole()
    {
        var store = new Store();
        store.Write("a", "a1");
        store.Write("b", "b1");
        await using var sync = NewSync(store);
        await sync.SyncAsync(Ct);

        // Wiped and written again: the same version numbers, other content. Only the epoch tells.
        store.Epoch = "e2";
        store.Banks["a"] = (1, "a1 after the wipe");
        store.Banks["b"] = (1, "b1 after the wipe");
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a1 after the wipe", "b1 after the wipe"], sync.Current!.Select(b => b.Content));
        Assert.Equal((2, 2), (store.Loads["a"], store.Loads["b"]));

        // Restored from an older backup, same epoch: one bank went back, every bank is read again.
        store.Write("a", "a2");
        store.Write("a", "a3");
        await sync.SyncAsync(Ct);
        store.Banks["a"] = (2, "a2 restored");
        store.Banks["b"] = (1, "b1 restored");
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a2 restored", "b1 restored"], sync.Current!.Select(b => b.Content));
        Assert.Equal((4, 3), (store.Loads["a"], store.Loads["b"]));
    }

    [Fact]
    public async Task A_bank_gone_with_its_version_is_kept_with_an_error_and_read_again_when_it_comes_back()
    {
        var store = new Store();
        store.Write("a", "a1");
        store.Write("b", "b1");
        var log = new LogRecorder();
        await using var sync = NewSync(store, log);
        await sync.SyncAsync(Ct);

        store.Banks.Clear(); // wiped: no registry, no version keys
        store.VersionKeys.Clear();
        store.Epoch = null;
        Assert.False(await sync.SyncAsync(Ct));
        Assert.Equal(["a1", "b1"], sync.Current!.Select(b => b.Content)); // known content still matched
        Assert.Equal(2, log.All.Count(l => l.Level == LogLevel.Error && l.Message.Contains("vanished from the store together with its version", StringComparison.Ordinal)));
        await sync.SyncAsync(Ct);
        Assert.Equal(2, log.All.Count(l => l.Level == LogLevel.Error)); // said once per bank

        store.Epoch = "e2";
        store.Write("a", "a1 again"); // version 1 again, under a new epoch
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a1 again", "b1"], sync.Current!.Select(b => b.Content));
    }

    [Fact]
    public async Task The_loop_survives_every_failure_logging_the_store_as_a_warning_and_the_rest_as_an_error()
    {
        string kind = $"test-{Guid.NewGuid():N}";
        var errors = new ConcurrentQueue<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.BankSyncsCounter) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var all = tags.ToArray();
            if (all.Any(t => t.Key == RedisTelemetry.KindTag && (string?)t.Value == kind))
                errors.Enqueue((string)all.Single(t => t.Key == RedisTelemetry.ResultTag).Value!);
        });
        listener.Start();

        var store = new Store();
        store.Write("a", "a1");
        store.FailState = new InvalidOperationException("the model does not load");
        var log = new LogRecorder();
        await using var sync = NewSync(store, log, kind);
        await sync.StartAsync(Deadline, Ct); // not thrown: the worker starts, the banks unavailable
        Assert.Null(sync.Current);
        var atStart = Assert.Single(log.All, l => l.Message.Contains("not loaded at start (the model does not load)", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Error, atStart.Level);
        Assert.IsType<InvalidOperationException>(atStart.Exception);

        store.FailState = new RedisException("the store is down");
        store.Signal();
        var down = await PollAsync(() => log.All.FirstOrDefault(l => l.Message.Contains("the store is down", StringComparison.Ordinal)), l => l.Message is not null);
        Assert.Equal(LogLevel.Warning, down.Level);
        Assert.Null(down.Exception);

        store.FailState = new InvalidDataException("a bank is damaged"); // neither the store nor cancellation: the loop goes on
        store.Signal();
        var damaged = await PollAsync(() => log.All.FirstOrDefault(l => l.Message.Contains("a bank is damaged", StringComparison.Ordinal)), l => l.Message is not null);
        Assert.Equal(LogLevel.Error, damaged.Level);

        store.FailState = null;
        store.Signal();
        Assert.Equal("a1", Assert.Single((await PollAsync(() => sync.Current, c => c is not null))!).Content);
        await PollAsync(() => errors.ToArray(), e => e.Contains("ok"));
        Assert.Equal(["error", "error", "error", "ok"], errors.ToArray());
    }

    [Fact]
    public async Task A_subscription_refused_at_start_does_not_stop_the_first_load_and_is_tried_again_by_the_loop()
    {
        var store = new Store { SubscribeFailures = 1 };
        store.Write("a", "a1");
        var log = new LogRecorder();
        // The loop's periodic check (here every 20 ms) is what tries the subscription again.
        await using var sync = NewSync(store, log, options: Options with { RefreshInterval = TimeSpan.FromMilliseconds(20) });
        await sync.StartAsync(Deadline, Ct);
        Assert.Equal("a1", Assert.Single(sync.Current!).Content);
        Assert.Contains(log.All, l => l.Level == LogLevel.Warning && l.Message.Contains("not subscribed to changes yet (no pub/sub yet)", StringComparison.Ordinal));
        await PollAsync(() => store.Subscribed, s => s);
    }

    [Fact]
    public async Task A_store_with_delta_records_is_followed_by_them_all_or_nothing_and_read_whole_where_they_do_not_reach()
    {
        var store = new Store();
        var deltas = new DeltaStore(store);
        deltas.Write("a", "a1");
        deltas.Write("b", "b1");
        await using var sync = new BankCopySync<Loaded, IReadOnlyList<Loaded>>(deltas, banks => [.. banks.Select(b => b.Value)], "Test banks", "test", Options);
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal((2L, 0L), sync.CatchUps);

        deltas.Write("a", "a2");
        deltas.Write("a", "a3");
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a3", "b1"], sync.Current!.Select(b => b.Content));
        Assert.Equal((1, 1, 1), (store.Loads["a"], store.Loads["b"], deltas.Applies["a"])); // two versions, one apply, no load
        Assert.Equal((2L, 1L), sync.CatchUps);

        // A bank from its records and another read whole that fails: neither is taken.
        var before = sync.Current;
        deltas.Write("a", "a4");
        store.Write("b", "b2"); // no record
        store.FailLoad = name => name == "b" ? new InvalidDataException("bank b does not load") : null;
        await Assert.ThrowsAsync<InvalidDataException>(() => sync.SyncAsync(Ct));
        Assert.Same(before, sync.Current);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 3, ["b"] = 1 }, sync.Versions);
        store.FailLoad = _ => null;
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal(["a4", "b2"], sync.Current!.Select(b => b.Content));
        Assert.Equal((1, 3), (store.Loads["a"], store.Loads["b"])); // b: first load, the failed one, this one

        // A new epoch: every bank read whole whatever the records say.
        store.Epoch = "e2";
        Assert.True(await sync.SyncAsync(Ct));
        Assert.Equal((2, 4), (store.Loads["a"], store.Loads["b"]));
    }

    [Fact]
    public async Task The_loop_reads_a_store_with_delta_records_whole_again_every_full_reload_interval()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var store = new Store();
        var deltas = new DeltaStore(store);
        deltas.Write("a", "a1");
        // The loop looks every 20 ms (real time); the re-read is due by the fake clock.
        await using var sync = new BankCopySync<Loaded, IReadOnlyList<Loaded>>(deltas, banks => [.. banks.Select(b => b.Value)], "Test banks", "test",
            Options with { RefreshInterval = TimeSpan.FromMilliseconds(20), FullReloadInterval = TimeSpan.FromMinutes(10) }, time: time);
        await sync.StartAsync(Deadline, Ct);
        Assert.Equal(1, store.Loads["a"]);
        store.Banks["a"] = (1, "a1 behind the records' back");
        time.Advance(TimeSpan.FromMinutes(7)); // under the interval's least jittered value (3/4 of it)
        int states = Volatile.Read(ref store.States);
        await PollAsync(() => Volatile.Read(ref store.States), n => n >= states + 2); // a whole turn of the loop since
        Assert.Equal(1, store.Loads["a"]);
        time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal("a1 behind the records' back", Assert.Single((await PollAsync(() => sync.Current, c => c![0].Content != "a1"))!).Content);
        Assert.Equal(2, store.Loads["a"]);
    }

    private static Task<T> PollAsync<T>(Func<T> read, Func<T, bool> done) => Poll.UntilAsync(read, done, Deadline, Ct);
}
