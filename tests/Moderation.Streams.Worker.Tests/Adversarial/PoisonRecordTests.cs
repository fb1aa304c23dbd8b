using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>
/// The worker keeps screening after each poison record: on the embedded stack (real broker, real Garnet, the real
/// pipeline), records that used to make the worker exit on every restart — an invalid upload with two 74 kB headers
/// and a large value, one with a 600 kB key, one with forged worker headers, an upload matching a bank entry whose id
/// is 1.1 MB of formula and control characters written straight into Redis — sit between good uploads. Every good
/// upload gets its decision, each poison record its DLQ record (or a bounded decision), and every partition commits
/// to its end.
/// </summary>
public sealed class PoisonRecordTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (PdqHash Hash, int Quality) PdqOf(byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded);
        var r = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        return (r.Hash, r.Quality);
    }

    /// <summary>Stores an entry the way an older version (or anyone with Redis access) could: no import checks.</summary>
    private static async Task StoreUncheckedAsync(EmbeddedStack stack, string bank, string id, byte[] image)
    {
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var store = new RedisBankStore(redis);
        var (hash, quality) = PdqOf(image);
        var entry = new BankEntry(bank, id, hash, quality, "label\r\n=cmd", "older-version", DateTimeOffset.UtcNow);
        var db = redis.GetDatabase();
        await db.SetAddAsync(store.RegistryKey, bank);
        await db.StringSetAsync(store.EpochKey, "test-epoch", when: StackExchange.Redis.When.NotExists);
        await db.HashSetAsync(store.EntriesKey(bank), id, RedisBankStore.Encode(entry));
        await db.StringIncrementAsync(store.VersionKey(bank));
    }

    [Fact]
    public async Task The_worker_keeps_screening_after_each_poison_record_and_commits_every_partition_to_its_end()
    {
        await using var stack = new EmbeddedStack();
        var banked = SampleImages.Encode(SampleImages.Render(7301, 640, 480));
        string hugeDirtyId = "=cmd|' /C calc'!A0\r\n\u001b[2J" + new string('i', 1_100_000);
        await StoreUncheckedAsync(stack, "legacy", hugeDirtyId, banked);

        var hugeKey = "poison-key-" + new string('k', 600_000);
        var forged = new Headers
        {
            { DlqHeaders.ErrorCode, "forged"u8.ToArray() },
            { DeadLetter.TruncatedHeader, "1"u8.ToArray() },
        };
        var poison = new List<(Message<byte[]?, byte[]?> Record, string ExpectedKey, string Expected)>
        {
            // 1,041,000 bytes: a real broker takes it; its DLQ record copied as it was is over the worker's 1,000,000.
            (new() { Key = "poison-headers"u8.ToArray(), Value = Junk(890_000), Headers = new Headers { { "x-big-1", new byte[74 * 1024] }, { "x-big-2", new byte[74 * 1024] } } },
                "poison-headers", ErrorCodes.InvalidEvent),
            (new() { Key = Encoding.UTF8.GetBytes(hugeKey), Value = Junk(450_000) }, hugeKey[..DeadLetter.MaxKeyBytes], ErrorCodes.InvalidEvent),
            (new() { Key = "poison-forged"u8.ToArray(), Value = "{"u8.ToArray(), Headers = forged }, "poison-forged", ErrorCodes.InvalidEvent),
            (new() { Key = "poison-bank"u8.ToArray(), Value = EmbeddedStack.Upload("poison-bank", stack.WriteImage("banked.png", banked)) }, "poison-bank", Actions.Takedown),
        };

        // good, poison, good, poison, ... good
        var all = new List<(Message<byte[]?, byte[]?> Record, string ExpectedKey, string Expected)>();
        for (int i = 0; i <= poison.Count; i++)
        {
            var key = $"good-{i}";
            all.Add((new() { Key = Encoding.UTF8.GetBytes(key), Value = EmbeddedStack.Upload(key, stack.WriteImage($"{key}.png", SampleImages.Png(7400 + i, 48, 40))) }, key, "decision"));
            if (i < poison.Count) all.Add(poison[i]);
        }

        using var host = stack.StartWorker();
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = stack.Broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, MessageMaxBytes = 2_000_000,
        }).Build())
        {
            foreach (var (record, _, _) in all) producer.Produce(Topics.Uploads, record);
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        var records = stack.ReadOutcomes(all.Count, deadline: TimeSpan.FromSeconds(120));
        await host.StopAsync(Ct); // drains and commits

        var byKey = records.GroupBy(r => r.Key!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(all.Select(a => a.ExpectedKey).Order(), byKey.Keys.Order());
        Assert.All(byKey, kv => Assert.Single(kv.Value));
        foreach (var (_, key, expected) in all)
        {
            var got = byKey[key][0];
            if (expected == "decision") Assert.NotEqual(Topics.Dlq, got.Topic);
            else if (expected == Actions.Takedown) Assert.Equal(Topics.Takedown, got.Topic);
            else Assert.Equal((Topics.Dlq, expected), (got.Topic, got.Headers.FirstOrDefault(h => h.Key == DlqHeaders.ErrorCode) is { } h ? Encoding.UTF8.GetString(h.GetValueBytes()) : null));
        }

        var headers = byKey["poison-headers"][0];
        Assert.Equal(890_000, headers.Value.Length);
        Assert.Equal("1", headers.Header(DeadLetter.HeadersDroppedHeader));
        Assert.Equal("600011", byKey[hugeKey[..DeadLetter.MaxKeyBytes]][0].Header(DeadLetter.KeyTruncatedHeader));
        var forgedDlq = byKey["poison-forged"][0];
        Assert.Equal("forged", forgedDlq.Header(DeadLetter.OriginalHeaderPrefix + DlqHeaders.ErrorCode));
        Assert.DoesNotContain(forgedDlq.Headers, h => h.Key == DeadLetter.TruncatedHeader);

        var bankReason = Assert.Single(byKey["poison-bank"][0].Decision.Reasons);
        Assert.Equal(("bank", "legacy"), (bankReason.Source, bankReason.Bank));
        Assert.Equal(TextLimits.BankIdChars, bankReason.MatchId!.Length);
        Assert.StartsWith("=cmd|' /C calc'!A0\\u000D\\u000A\\u001B[2J", bankReason.MatchId);
        Assert.True(SafeText.IsClean(bankReason.MatchId));
        Assert.InRange(byKey["poison-bank"][0].Value.Length, 0, 10_000);

        Assert.All(stack.CommittedVsEnd(), p => Assert.Equal(p.High, Math.Max(0, p.Committed))); // an empty partition has nothing to commit
    }

    /// <summary>Invalid JSON of the given size (the upload parser refuses it: <c>invalid-event</c>).</summary>
    private static byte[] Junk(int bytes)
    {
        var value = new byte[bytes];
        value.AsSpan().Fill((byte)'x');
        return value;
    }
}
