namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Matches a video's frame hashes against a bank index, vPDQ-style. Bank entries whose id carries a media fragment
/// (<c>clip.mp4#t=3.000</c>, as the <c>hash</c> verb prints a video's frames) are frames of one banked video: the
/// upload matches it when at least <see cref="VideoMatchOptions.MinQueryShare"/> of its frames match some frame of
/// that video and at least <see cref="VideoMatchOptions.MinBankShare"/> of the video's frames are matched — both
/// ways, so that neither a short clip of a long banked video nor a long upload quoting a second of it decides alone.
/// Any other entry is a banked image: <see cref="VideoMatchOptions.MinImageFrames"/> matching frames are enough.
/// </summary>
public static class VideoMatcher
{
    /// <summary>Separates a banked video's id from the frame's time in an entry id (W3C media fragment).</summary>
    public const string FrameSeparator = "#t=";


    /// <summary>The banked video's id of a frame entry id, or null for an image entry.</summary>
    public static string? VideoIdOf(string entryId)
    {
        int at = entryId.LastIndexOf(FrameSeparator, StringComparison.Ordinal);
        return at > 0 ? entryId[..at] : null;
    }

    /// <summary>The entry id of a video's frame: <c>{videoId}#t={seconds with 3 decimals}</c>.</summary>
    public static string FrameId(string videoId, long timestampMs) =>
        FormattableString.Invariant($"{videoId}{FrameSeparator}{Math.Max(0, timestampMs) / 1000.0:0.000}");

    /// <summary>The strongest match (most matching frames, then nearest), or null.</summary>
    public static VideoBankMatch? FindBest(IReadOnlyList<FrameHash> frames, BankIndex index, VideoMatchOptions options)
    {
        VideoBankMatch? best = null;
        foreach (var candidate in FindPerBank(frames, index, options))
            if (Stronger(candidate, best)) best = candidate;
        return best;
    }

    /// <summary>The strongest match in each bank that matched (most matching frames, then nearest), in bank order: what
    /// a policy with per-bank rules (a suppress bank, a bank's own distance) decides from.</summary>
    public static List<VideoBankMatch> FindPerBank(IReadOnlyList<FrameHash> frames, BankIndex index, VideoMatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(options);
        var perBank = new List<VideoBankMatch>();
        if (index.Count == 0) return perBank;
        var groups = new Dictionary<(string Bank, string Id, bool IsVideo), Group>();
        int hashed = 0;
        foreach (var frame in frames)
        {
            if (frame.Quality < index.Options.MinQuality) continue;
            hashed++;
            foreach (var m in index.FindAll(frame.Hash, frame.Quality, frame.Dihedral))
            {
                var video = VideoIdOf(m.Id);
                var key = (m.Bank, video ?? m.Id, video is not null);
                if (!groups.TryGetValue(key, out var g)) groups[key] = g = new Group();
                if (g.Frames.Count == 0 || !ReferenceEquals(g.Frames[^1], frame)) g.Frames.Add(frame);
                g.BankFrames.Add(m.Id);
                if (m.Distance < g.Distance) (g.Distance, g.Entry) = (m.Distance, m.Entry);
            }
        }
        if (hashed == 0) return perBank;

        foreach (var ((bank, id, isVideo), g) in groups.OrderBy(k => k.Key.Bank, StringComparer.Ordinal).ThenBy(k => k.Key.Id, StringComparer.Ordinal))
        {
            int bankFrames = isVideo ? FramesOf(index, bank, id) : 1;
            var candidate = new VideoBankMatch(bank, id, isVideo, g.Distance, g.Frames.Select(f => f.TimestampMs).ToArray(), hashed,
                g.BankFrames.Count, bankFrames) { Entry = g.Entry };
            bool matches = isVideo
                ? candidate.QueryShare >= options.MinQueryShare && candidate.BankShare >= options.MinBankShare
                : g.Frames.Count >= options.MinImageFrames;
            if (!matches) continue;
            if (perBank.Count > 0 && perBank[^1].Bank == bank)
            {
                if (Stronger(candidate, perBank[^1])) perBank[^1] = candidate;
            }
            else perBank.Add(candidate);
        }
        return perBank;
    }

    /// <summary>More matching frames, or as many and nearer; the first of equals stays.</summary>
    private static bool Stronger(VideoBankMatch candidate, VideoBankMatch? best) =>
        best is null || candidate.FrameTimestampsMs.Count > best.FrameTimestampsMs.Count
        || (candidate.FrameTimestampsMs.Count == best.FrameTimestampsMs.Count && candidate.Distance < best.Distance);

    /// <summary>Frames of a banked video in the index (counted once per index snapshot).</summary>
    private static int FramesOf(BankIndex index, string bank, string video) => Math.Max(1, index.FramesOf(bank, video));

    private sealed class Group
    {
        public List<FrameHash> Frames { get; } = [];
        public HashSet<string> BankFrames { get; } = new(StringComparer.Ordinal);
        public int Distance { get; set; } = int.MaxValue;
        public BankEntry? Entry { get; set; }
    }
}
