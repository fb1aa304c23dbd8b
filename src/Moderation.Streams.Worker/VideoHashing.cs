using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media.Video;

namespace Moderation.Streams.Worker;

/// <summary>Samples a video and PDQ-hashes each frame as ffmpeg hands it over (the <c>hash</c> verb, bank imports
/// and the screener all hash videos this way, so banked frames and uploaded frames are comparable).</summary>
/// <remarks>Frames are at most <see cref="VideoLimits.FrameMaxSide"/> (512) on a side, so PDQ hashes them as they
/// are: the reference's 512×512 stretch of larger pictures never applies. A banked frame hashed from a full-size
/// still of the same picture differs by a few bits (a different downscale), far inside the match distance.</remarks>
public static class VideoHashing
{
    public static async Task<(SampledVideo Video, FrameHash[] Frames)> HashAsync(VideoDecoder decoder, byte[] video, bool dihedral, CancellationToken ct)
    {
        var hashes = new Dictionary<int, FrameHash>();
        var hasher = new PdqHasher(); // the frame consumer calls one frame at a time
        var sampled = await decoder.SampleAsync(video, (i, image) =>
        {
            var pdq = hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            lock (hashes) hashes[i] = new FrameHash(-1, pdq.Hash, pdq.Quality, dihedral ? hasher.DihedralOfLast() : null);
            return ValueTask.CompletedTask;
        }, ct).ConfigureAwait(false);
        var frames = sampled.Frames.Select(f => hashes[f.Index]! with { TimestampMs = f.TimestampMs }).ToArray();
        return (sampled, frames);
    }
}
