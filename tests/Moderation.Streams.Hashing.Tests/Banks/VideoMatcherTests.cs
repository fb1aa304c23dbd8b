using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>The vPDQ-style rule on an in-memory bank.</summary>
public sealed class VideoMatcherTests
{
    private static PdqHash Random(int seed)
    {
        var r = new Random(seed);
        return new PdqHash((ulong)r.NextInt64(), (ulong)r.NextInt64(), (ulong)r.NextInt64(), (ulong)r.NextInt64());
    }

    private static PdqHash Flip(PdqHash h, int bits) => new(h.GetWord(0) ^ ((1UL << bits) - 1), h.GetWord(1), h.GetWord(2), h.GetWord(3));

    private static BankEntry Entry(string id, PdqHash hash) => new("b", id, hash, 90, null, null, DateTimeOffset.UnixEpoch);

    [Fact]
    public void A_banked_video_matches_only_when_enough_frames_match_both_ways()
    {
        var banked = Enumerable.Range(0, 10).Select(Random).ToArray();
        var index = new BankIndex(banked.Select((h, i) => Entry(VideoMatcher.FrameId("v", i * 1000), h)));
        var options = new VideoMatchOptions { MinQueryShare = 0.7, MinBankShare = 0.7 };
        FrameHash[] Upload(IEnumerable<PdqHash> hashes) => hashes.Select((h, i) => new FrameHash(i * 1000, h, 90)).ToArray();

        // A copy a few bits away from every frame.
        var copy = VideoMatcher.FindBest(Upload(banked.Select(h => Flip(h, 6))), index, options);
        Assert.Equal(("v", true, 6, 10, 10), (copy!.MatchId, copy.IsVideo, copy.Distance, copy.BankFramesMatched, copy.BankFrames));
        // Three seconds of it inside a long upload: most of the upload is something else.
        Assert.Null(VideoMatcher.FindBest(Upload(banked.Take(3).Concat(Enumerable.Range(100, 20).Select(Random))), index, options));
        // A short clip (3 of 10 banked frames) matches the query side only.
        Assert.Null(VideoMatcher.FindBest(Upload(banked.Take(3)), index, options));
        Assert.NotNull(VideoMatcher.FindBest(Upload(banked.Take(3)), index, options with { MinBankShare = 0.3 }));
        // Low-quality frames never count.
        Assert.Null(VideoMatcher.FindBest(banked.Select((h, i) => new FrameHash(i, h, 10)).ToArray(), index, options));
    }

    [Fact]
    public void A_video_match_names_its_closest_frame_entry_for_provenance()
    {
        var banked = Enumerable.Range(0, 4).Select(i => Random(300 + i)).ToArray();
        var index = new BankIndex(banked.Select((h, i) => new BankEntry("b", VideoMatcher.FrameId("v", i * 1000), h, 90, $"label-{i}", $"source-{i}",
            DateTimeOffset.UnixEpoch.AddDays(i))));
        // Frame 2 is the closest (1 bit); the others are 5 bits away.
        var frames = banked.Select((h, i) => new FrameHash(i * 1000, Flip(h, i == 2 ? 1 : 5), 90)).ToArray();
        var match = VideoMatcher.FindBest(frames, index, new VideoMatchOptions());
        Assert.Equal(1, match!.Distance);
        Assert.Equal((VideoMatcher.FrameId("v", 2000), "label-2", "source-2", DateTimeOffset.UnixEpoch.AddDays(2)),
            (match.Entry!.Id, match.Entry.Label, match.Entry.Source, match.Entry.AddedAt));
    }

    [Fact]
    public void A_banked_image_matches_when_enough_frames_show_it_and_the_match_lists_them()
    {
        var picture = Random(42);
        var index = new BankIndex([Entry("pic", picture)]);
        var frames = Enumerable.Range(0, 8).Select(i => new FrameHash(i * 1000, i is 3 or 4 ? Flip(picture, 4) : Random(200 + i), 90)).ToArray();

        var match = VideoMatcher.FindBest(frames, index, new VideoMatchOptions());
        Assert.Equal(("pic", false), (match!.MatchId, match.IsVideo));
        Assert.Equal([3000L, 4000], match.FrameTimestampsMs);
        Assert.Null(VideoMatcher.FindBest(frames, index, new VideoMatchOptions { MinImageFrames = 3 }));
    }

    [Fact]
    public void Per_bank_the_strongest_match_of_each_bank_is_kept_and_the_best_overall_is_the_strongest_of_them()
    {
        var picture = Random(7);
        var meme = Random(8);
        var index = new BankIndex([
            new BankEntry("benign", "meme", meme, 90, null, null, DateTimeOffset.UnixEpoch),
            new BankEntry("known-bad", "pic-far", Flip(picture, 9), 90, null, null, DateTimeOffset.UnixEpoch),
            new BankEntry("known-bad", "pic-near", Flip(picture, 2), 90, null, null, DateTimeOffset.UnixEpoch),
        ]);
        // Frames 0–2 show the picture, 3–6 the meme.
        var frames = Enumerable.Range(0, 7).Select(i => new FrameHash(i * 1000, i < 3 ? picture : meme, 90)).ToArray();

        var perBank = VideoMatcher.FindPerBank(frames, index, new VideoMatchOptions());
        Assert.Equal([("benign", "meme", 4, 0), ("known-bad", "pic-near", 3, 2)],
            perBank.Select(m => (m.Bank, m.MatchId, m.FrameTimestampsMs.Count, m.Distance)));
        Assert.Equal("meme", VideoMatcher.FindBest(frames, index, new VideoMatchOptions())!.MatchId); // most frames
        Assert.Empty(VideoMatcher.FindPerBank(frames, BankIndex.Empty, new VideoMatchOptions()));
    }
}
