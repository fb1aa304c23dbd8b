using Moderation.Streams.Media.Video;

namespace Moderation.Streams.Media;

/// <summary>What decoding an animation gave.</summary>
/// <param name="FramesDecoded">Frames composed and handed to the frame callback (every one is hashed).</param>
/// <param name="Sampled">The frames the model classifies: all decoded frames up to
/// <see cref="DecodeLimits.MaxAnimationFrames"/>, else that many spread evenly; scaled to at most 512 px.</param>
/// <param name="NotCovered">What was not decoded (frames past the limits, a frame that would not decode), or null.</param>
public sealed record DecodedAnimation(int FramesDecoded, IReadOnlyList<VideoFrame> Sampled, string? NotCovered);
