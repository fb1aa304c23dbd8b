using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>Captions and text items as DESIGN.md's "Text signals" fixes them.</summary>
public sealed class TextItemParserTests
{
    private static UploadEvent Parse(string json, EventLimits? limits = null) => UploadEventParser.Parse(System.Text.Encoding.UTF8.GetBytes(json), limits);

    private static ModerationException Refused(string json, EventLimits? limits = null) => Assert.Throws<ModerationException>(() => Parse(json, limits));

    private static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);

    [Fact]
    public void A_text_item_has_text_and_no_media()
    {
        var item = Parse("""{"content_id":"c-1","uploader_id":"u-9","media_type":"text","text":"hello there"}""");
        Assert.Equal((MediaTypes.Text, "hello there", (MediaRef?)null), (item.MediaType, item.Text, item.Media));
        var back = UploadEventParser.Parse(UploadEventParser.Serialize(item));
        Assert.Equal((item.MediaType, item.Text, item.Media), (back.MediaType, back.Text, back.Media));
    }

    [Theory]
    [InlineData("""{"content_id":"c","media_type":"text"}""", "text is required")]
    [InlineData("""{"content_id":"c","media_type":"text","text":""}""", "text is required")]
    [InlineData("""{"content_id":"c","media_type":"text","text":7}""", "must be a string")]
    [InlineData("""{"content_id":"c","media_type":"text","text":"hi","media":{"url":"file:///a"}}""", "media must be absent")]
    [InlineData("""{"content_id":"c","media_type":"text","text":"a\uD800b"}""", "")] // a lone surrogate is no text
    [InlineData("""{"content_id":"c","media_type":"image","media":{"url":"file:///a"},"caption":"x\uDC00"}""", "")]
    public void A_broken_text_item_or_caption_is_an_invalid_event(string json, string message)
    {
        var e = Refused(json);
        Assert.Equal(ErrorCodes.InvalidEvent, e.Code);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Captions_and_texts_are_capped_in_characters_not_utf16_units()
    {
        string Caption(string text) => """{"content_id":"c","media_type":"image","media":{"url":"file:///a"},"caption":""" + Json(text) + "}";
        Assert.Equal(4000, Parse(Caption(new string('a', 4000))).Caption!.Length);
        Assert.Contains("caption of 4001 characters exceeds the limit of 4000", Refused(Caption(new string('a', 4001))).Message);
        // 4,000 emoji are 8,000 UTF-16 units and still 4,000 characters.
        Assert.NotNull(Parse(Caption(string.Concat(Enumerable.Repeat("😀", 4000)))).Caption);
        Assert.Equal(ErrorCodes.InvalidEvent, Refused(Caption(string.Concat(Enumerable.Repeat("😀", 4001)))).Code);

        string Text(string text) => """{"content_id":"c","media_type":"text","text":""" + Json(text) + "}";
        Assert.NotNull(Parse(Text(new string('b', 10_000))).Text);
        Assert.Contains("text of 10001 characters exceeds the limit of 10000", Refused(Text(new string('b', 10_001))).Message);
        Assert.Equal(ErrorCodes.InvalidEvent, Refused(Text("abc"), new EventLimits { MaxTextChars = 2 }).Code);
    }

    [Fact]
    public void Control_characters_are_kept_as_they_came()
    {
        var item = Parse("""{"content_id":"c","media_type":"text","text":"s\u0000c\u0007am"}""");
        Assert.Equal("s\0c\aam", item.Text);
    }

    [Fact]
    public void A_text_field_on_an_image_is_an_unknown_field_and_ignored()
    {
        var image = Parse("""{"content_id":"c","media_type":"image","media":{"url":"file:///a"},"text":{"odd":1}}""");
        Assert.Null(image.Text);
    }
}
