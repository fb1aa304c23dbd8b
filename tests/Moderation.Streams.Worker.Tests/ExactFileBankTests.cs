using System.Security.Cryptography;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.DigestBanks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Exact file-hash banks through a running worker (issue 22, item 6): a file whose digest is banked comes down
/// before anything decodes it, even when nothing could; one byte changed and the digest misses, which is why PDQ still
/// matters; a review bank's exact match joins the model's decision like a PDQ one.</summary>
public sealed class ExactFileBankTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task ImportDigestsAsync(EmbeddedStack stack, string bank, string kind, string csv)
    {
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var read = DigestCsv.Read(new StringReader(csv), bank, kind, "exact-list.csv", new DateTimeOffset(2026, 11, 3, 8, 0, 0, TimeSpan.Zero));
        Assert.Empty(read.Errors);
        await new RedisDigestBankStore(redis).ImportAsync(bank, kind, read.Entries);
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

#pragma warning disable CA5351 // the list is in MD5
    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));
#pragma warning restore CA5351

    [Fact]
    public async Task A_banked_digest_takes_a_picture_and_an_undecodable_blob_down_undecoded_and_a_one_byte_change_escapes_to_pdq()
    {
        await using var stack = new EmbeddedStack();
        var picture = SampleImages.Encode(SampleImages.Render(6401, 640, 480));
        var blob = new byte[4096];
        new Random(6402).NextBytes(blob); // decodes as nothing
        var otherBlob = new byte[4096];
        new Random(6403).NextBytes(otherBlob);
        byte[] changed = [.. picture, 0]; // one byte more: the same picture to a viewer, another file to a digest
        Assert.Equal(PdqOf(picture).Hash, PdqOf(changed).Hash);

        await ImportDigestsAsync(stack, "ncmec", DigestKinds.Sha256, $"{Sha256(picture)},n-1,csam-a1\n{Sha256(blob)},n-2,csam-a2\n");
        // The same picture by PDQ in another bank: what catches the changed copy.
        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
        {
            var pdq = PdqOf(picture);
            var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},p-1"), "known-bad", "test", DateTimeOffset.UtcNow);
            Assert.Empty(errors);
            await new RedisBankStore(redis).ImportAsync("known-bad", entries);
        }
        using var host = stack.StartWorker();
        stack.Produce([("picture", EmbeddedStack.Upload("picture", stack.WriteImage("picture.png", picture))),
                       ("blob", EmbeddedStack.Upload("blob", stack.WriteImage("blob.png", blob))),
                       ("other-blob", EmbeddedStack.Upload("other-blob", stack.WriteImage("other-blob.png", otherBlob))),
                       ("changed", EmbeddedStack.Upload("changed", stack.WriteImage("changed.png", changed)))]);
        var records = stack.ReadOutcomes(4, settle: TimeSpan.Zero);
        EmbeddedStack.Record Of(string key) => Assert.Single(records, r => r.Key == key);

        foreach (var (key, id, label) in new[] { ("picture", "n-1", "csam-a1"), ("blob", "n-2", "csam-a2") })
        {
            var record = Of(key);
            Assert.Equal(Topics.Takedown, record.Topic);
            var decision = record.Decision;
            var reason = Assert.Single(decision.Reasons);
            Assert.Equal(("bank", "ncmec", id, 0, "sha256"), (reason.Source, reason.Bank!, reason.MatchId!, reason.Distance!.Value, reason.Digest!));
            Assert.Equal((label, "exact-list.csv"), (reason.EntryLabel, reason.EntrySource));
            Assert.Null(decision.Scores); // no model
            Assert.Null(decision.Pdq); // nothing was decoded
        }
        Assert.Equal(Topics.Dlq, Of("other-blob").Topic); // an unbanked undecodable blob still goes to the DLQ

        var escaped = Of("changed");
        Assert.Equal(Topics.Takedown, escaped.Topic);
        var byPdq = Assert.Single(escaped.Decision.Reasons);
        Assert.Equal(("known-bad", "p-1", null), (byPdq.Bank, byPdq.MatchId, byPdq.Digest)); // the digest missed; PDQ did not
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_review_banks_exact_match_joins_the_models_decision()
    {
        await using var stack = new EmbeddedStack();
        var picture = SampleImages.Encode(SampleImages.Render(6411, 640, 480));
        await ImportDigestsAsync(stack, "partner", DigestKinds.Md5, $"digest,id,label\n{Md5(picture)},m-1,partner-label\n");
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"exact-1","takedown":{"porn":0.9},"review":{"porn":0.6},"banks":{"partner":"review"}}""");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        stack.Produce([("picture", EmbeddedStack.Upload("picture", stack.WriteImage("picture.png", picture)))]);
        var decision = Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision;

        Assert.Equal(Actions.Review, decision.Action);
        var reason = Assert.Single(decision.Reasons, r => r.Source == "bank");
        Assert.Equal(("partner", "m-1", 0, "md5", "partner-label"), (reason.Bank, reason.MatchId, reason.Distance!.Value, reason.Digest, reason.EntryLabel));
        Assert.NotNull(decision.Scores); // a review bank settles nothing: the model ran
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_suppress_banks_pdq_match_cancels_a_digest_takedown_and_an_undecodable_known_file_still_comes_down()
    {
        await using var stack = new EmbeddedStack();
        var meme = SampleImages.Encode(SampleImages.Render(6431, 640, 480));
        var blob = new byte[2048];
        new Random(6432).NextBytes(blob);
        // A bad import: a popular meme's file in the takedown list, its picture in the benign bank.
        await ImportDigestsAsync(stack, "ncmec", DigestKinds.Sha256, $"{Sha256(meme)},n-meme\n{Sha256(blob)},n-blob\n");
        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
        {
            var pdq = PdqOf(meme);
            var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},meme-1"), "benign", "test", DateTimeOffset.UtcNow);
            Assert.Empty(errors);
            await new RedisBankStore(redis).ImportAsync("benign", entries);
        }
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"exact-suppress-1","takedown":{"porn":0.9},"review":{"porn":0.6},"banks":{"benign":"suppress"}}""");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        stack.Produce([("meme", EmbeddedStack.Upload("meme", stack.WriteImage("meme.png", meme))),
                       ("blob", EmbeddedStack.Upload("blob", stack.WriteImage("blob.png", blob)))]);
        var records = stack.ReadOutcomes(2, settle: TimeSpan.Zero);

        var decided = Assert.Single(records, r => r.Key == "meme").Decision;
        Assert.Equal(Actions.Allow, decided.Action); // the model decided: a calm rendered picture
        var suppressed = Assert.Single(decided.Reasons);
        Assert.Equal(("benign", "meme-1", PolicyBankRule.Suppress, null), (suppressed.Bank, suppressed.MatchId, suppressed.Code, suppressed.Digest));
        var blobRecord = Assert.Single(records, r => r.Key == "blob");
        Assert.Equal(Topics.Takedown, blobRecord.Topic);
        Assert.Equal(("ncmec", "n-blob", "sha256"), (blobRecord.Decision.Reasons[0].Bank, blobRecord.Decision.Reasons[0].MatchId, blobRecord.Decision.Reasons[0].Digest));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_digest_entry_that_floods_is_quarantined_to_review_like_a_pdq_one()
    {
        await using var stack = new EmbeddedStack();
        var picture = SampleImages.Encode(SampleImages.Render(6421, 640, 480));
        await ImportDigestsAsync(stack, "ncmec", DigestKinds.Sha256, $"{Sha256(picture)},n-meme\n");
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"exact-floods-1","takedown":{"porn":0.9},"review":{"porn":0.6},"bank_floods":{"window":"10m","max_uploads":1}}""");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        var url = stack.WriteImage("meme.png", picture);
        int seen = 0;
        DecisionEvent Screen(string key)
        {
            stack.Produce([(key, EmbeddedStack.Upload(key, url))]);
            return stack.ReadOutcomes(++seen, settle: TimeSpan.Zero).Single(r => r.Key == key).Decision;
        }

        var first = Screen("u-1");
        Assert.Equal((Actions.Takedown, "sha256"), (first.Action, Assert.Single(first.Reasons).Digest));
        var second = Screen("u-2");
        Assert.Equal(Actions.Review, second.Action);
        var reason = Assert.Single(second.Reasons, r => r.Source == "bank");
        Assert.Equal(("ncmec", "n-meme", "sha256", Decider.QuarantinedCode), (reason.Bank, reason.MatchId, reason.Digest, reason.Code));
        Assert.NotNull(second.Scores); // a quarantined match settles nothing: decoded and scored
        await host.StopAsync(Ct);
    }

    private static PdqResult PdqOf(byte[] bytes)
    {
        var image = ImageDecoder.Decode(bytes);
        return new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
    }
}
