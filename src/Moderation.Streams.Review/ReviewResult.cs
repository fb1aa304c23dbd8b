namespace Moderation.Streams.Review;

/// <summary>What a console action did, as an HTTP status and a message or value (the API and the pages share it).</summary>
public sealed record ReviewResult(int Status, string? Error = null, object? Value = null)
{
    public static ReviewResult Ok(object? value = null) => new(200, null, value);
    public static ReviewResult Bad(string error) => new(400, error);
    public static ReviewResult NotFound(string error) => new(404, error);
    public static ReviewResult Conflict(string error, object? value = null) => new(409, error, value);
    public static ReviewResult Unavailable(string error) => new(503, error);

    public bool IsOk => Status == 200;
}
