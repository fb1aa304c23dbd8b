using System.Text.Json;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>The verdict event of DESIGN.md "Human review", as the review console writes it to <c>moderation.reviews</c>.</summary>
public sealed class VerdictEventTests
{
    private static VerdictEvent Sample(string verdict = "takedown", BankedEntry? banked = null, string? note = "n") => new()
    {
        ContentId = "c-1", Verdict = verdict, Reviewer = "alice", Note = note, Banked = banked,
        DecidedAt = new DateTimeOffset(2026, 12, 6, 10, 0, 0, 120, TimeSpan.Zero), ReviewOf = new ReviewOf("p.1", "nsfw-mobilenet-v2@1"),
    };

    [Fact]
    public void Writes_the_contract_fields_in_snake_case_and_reads_them_back()
    {
        var e = Sample(banked: new BankedEntry("reviewed", "c-1"));
        var json = JsonDocument.Parse(e.ToUtf8Json()).RootElement;
        Assert.Equal("c-1", json.GetProperty("content_id").GetString());
        Assert.Equal("takedown", json.GetProperty("verdict").GetString());
        Assert.Equal("alice", json.GetProperty("reviewer").GetString());
        Assert.Equal("n", json.GetProperty("note").GetString());
        Assert.Equal("reviewed", json.GetProperty("banked").GetProperty("bank").GetString());
        Assert.Equal("c-1", json.GetProperty("banked").GetProperty("id").GetString());
        Assert.Equal("2026-12-06T10:00:00.120Z", json.GetProperty("decided_at").GetString());
        Assert.Equal("p.1", json.GetProperty("review_of").GetProperty("policy_version").GetString());
        Assert.Equal("nsfw-mobilenet-v2@1", json.GetProperty("review_of").GetProperty("model_version").GetString());
        Assert.Equal(e, VerdictEvent.FromUtf8Json(e.ToUtf8Json()));
    }

    [Fact]
    public void Banked_is_written_as_null_when_nothing_was_banked_and_a_missing_note_is_omitted()
    {
        var json = JsonDocument.Parse(Sample("allow", note: null).ToUtf8Json()).RootElement;
        Assert.Equal(JsonValueKind.Null, json.GetProperty("banked").ValueKind);
        Assert.False(json.TryGetProperty("note", out _));
    }

    [Theory]
    [InlineData("takedown", true)]
    [InlineData("allow", true)]
    [InlineData("review", false)]
    [InlineData("Takedown", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_takedown_and_allow_are_verdicts(string? value, bool ok)
    {
        Assert.Equal(ok, VerdictEvent.IsVerdict(value));
        if (ok) Assert.Equal(value, Sample(value!).Verdict);
        else Assert.Contains("verdict must be takedown or allow", Assert.Throws<ArgumentException>(() => Sample(value!)).Message);
    }

    [Fact]
    public void A_null_document_is_not_a_verdict()
    {
        var e = Assert.Throws<JsonException>(() => VerdictEvent.FromUtf8Json("null"u8));
        Assert.Equal("null verdict", e.Message);
    }

    [Fact]
    public void Notes_and_reviewer_names_are_escaped_and_cut()
    {
        var e = Sample(note: new string('x', VerdictEvent.MaxNoteChars + 50)) with { Reviewer = "eve\u202Egnp.exe" };
        Assert.True(e.Note!.Length <= VerdictEvent.MaxNoteChars);
        Assert.EndsWith(SafeText.Ellipsis, e.Note);
        Assert.DoesNotContain('\u202E', e.Reviewer);
        Assert.Null(Sample(note: null).Note);
    }

    [Fact]
    public void A_review_reason_names_the_reviewer_and_reviews_is_a_contract_topic()
    {
        var json = JsonDocument.Parse(JsonSerializer.Serialize(new DecisionReason { Source = "review", Reviewer = "alice\nx" }, ContractJson.Options)).RootElement;
        Assert.Equal("review", json.GetProperty("source").GetString());
        Assert.DoesNotContain('\n', json.GetProperty("reviewer").GetString()!);
        Assert.StartsWith("alice", json.GetProperty("reviewer").GetString());
        Assert.Equal("moderation.reviews", Topics.Reviews);
        Assert.Contains(Topics.Reviews, Topics.All);
        Assert.DoesNotContain(Topics.Reviews, Topics.Outcomes);
    }
}
