namespace Moderation.Streams.Redis;

/// <param name="PdqHashHex">The 256-bit PDQ hash as 64 hex digits (either case; stored lower-case).</param>
/// <param name="PolicyVersion">Policy version, e.g. <c>2026-11-25.1</c>; must not contain <c>|</c>.</param>
/// <param name="ModelVersion">Model version, e.g. <c>nsfw-mobilenet-v2@1</c>.</param>
public readonly record struct DecisionCacheKey(string PdqHashHex, string PolicyVersion, string ModelVersion);
