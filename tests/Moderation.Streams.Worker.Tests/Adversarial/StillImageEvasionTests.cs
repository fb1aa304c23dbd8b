using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Media.Tests.Adversarial;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using SkiaSharp;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>
/// The adversarial probe's still-image evasions, end to end on the embedded stack: a banked picture uploaded stored
/// turned or mirrored with an EXIF orientation (every viewer shows it upright) comes down by the bank, and a JPEG cut
/// at half with an end-of-image marker appended goes to the DLQ as <c>undecodable-media</c> instead of being allowed.
/// </summary>
public sealed class StillImageEvasionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Banks the picture as <c>moderation hash</c> would (the stored pixels, Meta's reference reading).</summary>
    private static async Task BankAsync(EmbeddedStack stack, string id, byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded, orientation: ImageOrientation.AsStored);
        var pdq = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},{id},known"), "known-bad", "test", DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        await new RedisBankStore(redis).ImportAsync("known-bad", entries);
    }

    private static byte[] StoredWithOrientation(SKBitmap upright, int orientation)
    {
        using var stored = StillImageEvasions.Stored(upright, orientation);
        return StillImageEvasions.WithJpegOrientation(SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 90), orientation);
    }

    private static string UprightHash(byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded);
        return new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels).Hash.ToString();
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task A_banked_picture_stored_turned_or_mirrored_with_an_exif_orientation_is_taken_down_by_the_bank(string dihedral)
    {
        await using var stack = new EmbeddedStack();
        using var picture = SampleImages.Render(6301, 640, 480);
        await BankAsync(stack, "h-exif", SampleImages.Encode(picture));
        // Upright decoding alone must catch these: with dihedral matching off too.
        using var host = stack.StartWorker(new() { ["Banks:Dihedral"] = dihedral });

        var uploads = new[] { 6, 5, 7, 8, 3 }.ToDictionary(o => $"exif-{o}", o => StoredWithOrientation(picture, o));
        stack.Produce(uploads.Select(u => (u.Key, EmbeddedStack.Upload(u.Key, stack.WriteImage(u.Key + ".jpg", u.Value)))));
        var records = stack.ReadOutcomes(uploads.Count, settle: TimeSpan.Zero);

        foreach (var (key, bytes) in uploads)
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            Assert.Equal(Actions.Takedown, decision.Action);
            var reason = Assert.Single(decision.Reasons);
            Assert.Equal(("bank", "known-bad", "h-exif"), (reason.Source, reason.Bank, reason.MatchId));
            Assert.InRange(reason.Distance!.Value, 0, 12); // the upright picture itself, only re-encoded
            // The hash decided on (and the decision cache's key) is the picture's as shown, not as stored.
            Assert.Equal(UprightHash(bytes), decision.Pdq!.Hash);
        }
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task By_default_a_banked_picture_turned_or_mirrored_without_any_orientation_tag_is_taken_down_too()
    {
        await using var stack = new EmbeddedStack();
        using var picture = SampleImages.Render(6302, 640, 480);
        await BankAsync(stack, "h-turned", SampleImages.Encode(picture));
        using var host = stack.StartWorker(); // Banks:Dihedral is on by default

        // The stored pixels of orientations 6 and 2 with no EXIF: a viewer shows them turned and mirrored.
        var uploads = new[] { 6, 2 }.ToDictionary(o => $"turned-{o}", o =>
        {
            using var stored = StillImageEvasions.Stored(picture, o);
            return SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 90);
        });
        stack.Produce(uploads.Select(u => (u.Key, EmbeddedStack.Upload(u.Key, stack.WriteImage(u.Key + ".jpg", u.Value)))));
        var records = stack.ReadOutcomes(uploads.Count, settle: TimeSpan.Zero);

        foreach (var key in uploads.Keys)
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            Assert.Equal(Actions.Takedown, decision.Action);
            Assert.Equal("h-turned", Assert.Single(decision.Reasons).MatchId);
        }
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task The_classifier_sees_the_picture_as_shown_and_the_decision_cache_is_keyed_by_it()
    {
        using var picture = SampleImages.Render(6306, 320, 240);
        using var stored = StillImageEvasions.Stored(picture, 6);
        var upright = SampleImages.Encode(picture);
        // PNG is lossless: the same pixels, turned. (Not WebP: browsers show a WebP's pixels as stored whatever its EXIF says.)
        var storedPng = SampleImages.Encode(stored);
        var taggedPng = StillImageEvasions.WithPngOrientation(storedPng, 6);

        // Without Redis nothing is cached: every upload goes through the model.
        await using (var stack = new EmbeddedStack())
        {
            using var host = stack.StartWorker(new() { ["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200" });
            stack.Produce([("upright", EmbeddedStack.Upload("upright", stack.WriteImage("upright.png", upright))),
                           ("tagged", EmbeddedStack.Upload("tagged", stack.WriteImage("tagged.png", taggedPng))),
                           ("untagged", EmbeddedStack.Upload("untagged", stack.WriteImage("untagged.png", storedPng)))]);
            var records = stack.ReadOutcomes(3);
            DecisionEvent Of(string key) => Assert.Single(records, r => r.Key == key).Decision;

            Assert.Equal(Of("upright").Pdq!.Hash, Of("tagged").Pdq!.Hash);
            Assert.NotEqual(Of("upright").Pdq!.Hash, Of("untagged").Pdq!.Hash);
            foreach (var (label, score) in Of("upright").Scores!)
                Assert.Equal(score, Of("tagged").Scores![label], 4);
            // The same pixels unturned score differently: the comparison above can tell the two apart.
            Assert.Contains(Of("upright").Scores!, kv => Math.Abs(kv.Value - Of("untagged").Scores![kv.Key]) > 1e-3);
            await host.StopAsync(Ct);
        }

        // With the cache: the turned copy of a decided picture reuses its decision.
        await using (var stack = new EmbeddedStack())
        {
            using var host = stack.StartWorker();
            stack.Produce([("first", EmbeddedStack.Upload("first", stack.WriteImage("first.png", upright)))]);
            var first = Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision;
            stack.Produce([("again", EmbeddedStack.Upload("again", stack.WriteImage("again.png", taggedPng)))]);
            var again = stack.ReadOutcomes(2, settle: TimeSpan.Zero).Single(r => r.Key == "again").Decision;

            Assert.False(first.Cached);
            Assert.True(again.Cached);
            Assert.Equal((first.Action, first.Pdq!.Hash), (again.Action, again.Pdq!.Hash));
            await host.StopAsync(Ct);
        }
    }

    [Fact]
    public async Task Jpegs_cut_at_half_with_an_end_of_image_marker_go_to_the_dlq_as_undecodable_and_their_neighbours_are_decided()
    {
        await using var stack = new EmbeddedStack();
        using var host = stack.StartWorker();
        var baseline = SampleImages.Jpeg(6303, 640, 480, 90);
        var progressive = File.ReadAllBytes(Path.Combine(RepoDirectory(), "..", "shared", "pdq-vectors", "data", "reg-test-input", "dih", "bridge-2-rotate-90.jpg"));
        var uploads = new (string Key, byte[] Bytes)[]
        {
            ("good-before", SampleImages.Png(6304, 64, 48)),
            ("baseline-half-eoi", StillImageEvasions.CutWithEndOfImage(baseline, 0.5)),
            ("progressive-half-eoi", StillImageEvasions.CutWithEndOfImage(progressive, 0.5)),
            ("good-after", SampleImages.Png(6305, 64, 48)),
        };
        stack.Produce(uploads.Select(u => (u.Key, EmbeddedStack.Upload(u.Key, stack.WriteImage(u.Key + ".bin", u.Bytes)))));
        var records = stack.ReadOutcomes(uploads.Length);

        Assert.Equal(uploads.Length, records.Count);
        foreach (var key in new[] { "baseline-half-eoi", "progressive-half-eoi" })
        {
            var record = Assert.Single(records, r => r.Key == key);
            Assert.Equal(Topics.Dlq, record.Topic);
            Assert.Equal(ErrorCodes.UndecodableMedia, record.Header(DlqHeaders.ErrorCode));
        }
        foreach (var key in new[] { "good-before", "good-after" })
            Assert.NotEqual(Topics.Dlq, Assert.Single(records, r => r.Key == key).Topic);
        await host.StopAsync(Ct);
    }

    private static string RepoDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
