using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.TextBanks;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Text;

namespace Moderation.Streams.Redis.Tests.TextBanks;

/// <summary>Term and domain banks in a real redis-server: what is stored always loads, kinds never mix, changes reach a
/// matcher, and a copy nobody could refresh stops being trusted.</summary>
public sealed class RedisTextBankStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Imported_banks_export_as_they_load_and_match_like_the_files()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        Assert.Equal(1, await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("pattern,category,id,mode\n\"free, crypto\",scam,t-1\n\"wire \"\"now\"\"\",scam,t-2,substring\n")));
        Assert.Equal(2, await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("giveaway,scam,t-3\n")));
        await store.ImportAsync("links", TextBankKinds.Domains, new StringReader("Bad.Example.,phishing,d-1\n"));

        var listed = await store.ListAsync();
        Assert.Equal([("links", "domains", 1L, 1L), ("scams", "terms", 3L, 2L)], listed.Select(b => (b.Name, b.Kind, b.Count, b.Version)));
        var export = await store.ExportAsync("scams");
        var again = TermBank.Load("scams", new StringReader(export)); // the export is a bank file again
        Assert.Equal(["t-1", "t-2", "t-3"], again.Entries.Select(e => e.Id));
        Assert.Equal("wire \"now\"", again.Entries[1].Pattern);
        Assert.Equal(TermMode.Substring, again.Entries[1].Mode);
        Assert.Contains("\"bad.example\"", await store.ExportAsync("links")); // stored canonical

        var (matcher, versions) = await store.LoadAsync(Ct);
        Assert.Equal(2, versions["scams"]);
        Assert.Equal(["t-1", "d-1"], matcher.Match("free, crypto at https://x.bad.example/").Select(m => m.Id));
    }

    [Fact]
    public async Task A_refused_row_refuses_the_import_and_kinds_never_mix()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        var e = await Assert.ThrowsAsync<TextBankException>(() => store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("ok,scam\n(a+)+$,scam,r,regex\n")));
        Assert.Single(e.Errors);
        Assert.Empty(await store.ListAsync()); // nothing written

        await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("ok,scam\n"));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ImportAsync("scams", TextBankKinds.Domains, new StringReader("bad.example,x\n")));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ImportAsync("scams", "texts", new StringReader("x,y\n")));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => store.ExportAsync("nosuch"));

        var (removed, version) = await store.RemoveAsync("scams", ["ok", "missing"]);
        Assert.Equal((1, 2), (removed, version)); // the refused imports wrote nothing, not even a version
        await store.DeleteAsync("scams");
        Assert.Empty(await store.ListAsync());
        await Assert.ThrowsAsync<KeyNotFoundException>(() => store.DeleteAsync("scams"));
    }

    [Fact]
    public async Task A_matcher_follows_the_store_and_stops_trusting_a_copy_it_cannot_refresh()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        await store.ImportAsync("drugs", TextBankKinds.Terms, new StringReader("oxy,drugs\n"));
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var matcher = new TextBankMatcher(redis, store, new BankMatcherOptions { RefreshInterval = TimeSpan.FromMinutes(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromMinutes(2) }, time: time);
        Assert.Null(matcher.Current); // nothing loaded yet
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Single(matcher.Current!.Match("buy oxy"));
        Assert.Empty(matcher.Current.Match("oxygen"));

        Assert.False(await matcher.SyncAsync(Ct)); // nothing moved
        await store.ImportAsync("drugs", TextBankKinds.Terms, new StringReader("fentanyl,drugs\n"));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Single(matcher.Current!.Match("fentanyl for sale"));

        await server.StopAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => matcher.SyncAsync(Ct));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(matcher.Current); // fresh enough
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(matcher.Current); // too old to trust: texts fail closed
    }

    [Fact]
    public async Task Each_change_a_matcher_loads_records_its_delay_from_the_write_with_the_text_kind()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero));
        var delays = new System.Collections.Concurrent.ConcurrentQueue<(double Seconds, string Bank)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.BankChangeDelayHistogram) l.EnableMeasurementEvents(instrument);
        };
        // Only this test's banks: "text" and a name no other test uses.
        string prefix = "tdelay-" + Guid.NewGuid().ToString("N")[..8];
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? kind = null, bank = null;
            foreach (var tag in tags)
            {
                if (tag.Key == RedisTelemetry.KindTag) kind = (string?)tag.Value;
                if (tag.Key == RedisTelemetry.BankTag) bank = (string?)tag.Value;
            }
            if (kind == "text" && bank?.StartsWith(prefix, StringComparison.Ordinal) == true) delays.Enqueue((value, bank));
        });
        listener.Start();

        var store = new RedisTextBankStore(redis, time: time);
        await store.ImportAsync(prefix + "-terms", TextBankKinds.Terms, new StringReader("oxy,drugs\n"));
        Assert.Equal(time.GetUtcNow(), await store.GetChangedAtAsync(prefix + "-terms"));
        await using var matcher = new TextBankMatcher(redis, store, new BankMatcherOptions { RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) }, time: time);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Empty(delays); // the first load applies no change

        await store.ImportAsync(prefix + "-terms", TextBankKinds.Terms, new StringReader("fentanyl,drugs\n"));
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.True(await matcher.SyncAsync(Ct));
        await store.ImportAsync(prefix + "-links", TextBankKinds.Domains, new StringReader("bad.example,phishing\n"));
        await store.RemoveAsync(prefix + "-terms", ["oxy"]);
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Empty(matcher.Current!.Match("buy oxy"));

        Assert.Equal([(0.4, prefix + "-terms"), (1.5, prefix + "-links"), (1.5, prefix + "-terms")], delays.OrderBy(d => d.Seconds).ThenBy(d => d.Bank, StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_term_or_domain_change_reaches_the_copy_from_its_delta_record_and_a_bank_is_loaded_whole_where_they_do_not_reach()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        await store.ImportAsync("drugs", TextBankKinds.Terms, new StringReader("oxy,drugs,t1\nfent,drugs,t2\n"));
        // Two ids list one domain (imported apart: a file keeps the last row of a domain): the later by id wins, and the
        // other comes back when it is removed.
        await store.ImportAsync("links", TextBankKinds.Domains, new StringReader("bad.example,phishing,d1\n"));
        await store.ImportAsync("links", TextBankKinds.Domains, new StringReader("bad.example,malware,d2\n"));
        await using var matcher = new TextBankMatcher(redis, store, new BankMatcherOptions { RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) });
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 0L), matcher.CatchUps);
        var links = matcher.Banks["links"];
        Assert.Equal("malware", Assert.Single(matcher.Current!.Match("see bad.example")).Category);

        await store.ImportAsync("drugs", TextBankKinds.Terms, new StringReader("fentanyl,drugs,t3\noxycodone,drugs,t1\n"));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 1L), matcher.CatchUps);
        Assert.Same(links, matcher.Banks["links"]);
        Assert.Equal(["t3"], matcher.Current!.Match("fentanyl for sale").Select(m => m.Id));
        Assert.Empty(matcher.Current!.Match("buy oxy")); // t1 is oxycodone now
        Assert.Equal(["t1", "t2", "t3"], matcher.Banks["drugs"].Terms!.Entries.Select(e => e.Id)); // ordered by id, as loaded from the store

        await store.RemoveAsync("links", ["d2"]);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 2L), matcher.CatchUps);
        Assert.Equal("phishing", Assert.Single(matcher.Current!.Match("see bad.example")).Category);

        // Replaced whole, and a record gone: loaded whole.
        await store.ImportAsync("drugs", TextBankKinds.Terms, new StringReader("heroin,drugs,t9\n"), replace: true);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((3L, 2L), matcher.CatchUps);
        Assert.Empty(matcher.Current!.Match("fentanyl for sale"));
        await store.ImportAsync("links", TextBankKinds.Domains, new StringReader("worse.example,phishing,d3\n"));
        await redis.GetDatabase().KeyDeleteAsync(store.DeltaKey("links", await store.GetVersionAsync("links")));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((4L, 2L), matcher.CatchUps);
        Assert.Single(matcher.Current!.Match("see worse.example"));

        // And what the copy holds is what loading the store whole gives.
        var (whole, _) = await store.LoadAsync(Ct);
        foreach (var text in new[] { "heroin at bad.example", "worse.example oxy fentanyl", "nothing" })
            Assert.Equal(whole.Match(text), matcher.Current!.Match(text));
    }
}
