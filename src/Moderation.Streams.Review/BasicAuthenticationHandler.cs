using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Moderation.Streams.Review;

/// <summary>HTTP Basic for the JSON API, checked against the users file. ASP.NET Core ships no Basic handler; this one
/// is small: parse the header, ask <see cref="ReviewUsers"/>, count failures in <see cref="LoginThrottle"/>.</summary>
public sealed class BasicAuthenticationHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    public const string SchemeName = "Basic";
    private readonly ReviewUsers _users;
    private readonly LoginThrottle _throttle;
    private readonly ReviewTelemetry _telemetry;

    public BasicAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
        ReviewUsers users, LoginThrottle throttle, ReviewTelemetry telemetry) : base(options, logger, encoder)
    {
        _users = users;
        _throttle = throttle;
        _telemetry = telemetry;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
            return Task.FromResult(AuthenticateResult.NoResult());
        string address = ClientAddress.Of(Context);
        if (_throttle.RetryAfterSeconds(address) > 0)
        {
            Context.Items[ThrottledKey] = true;
            return Task.FromResult(AuthenticateResult.Fail("too many failed logins"));
        }
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(header.Parameter));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return Task.FromResult(Failed(address, "malformed Basic credentials"));
        }
        int colon = decoded.IndexOf(':');
        if (colon <= 0) return Task.FromResult(Failed(address, "malformed Basic credentials"));
        var user = _users.Authenticate(decoded[..colon], decoded[(colon + 1)..]);
        if (user is null) return Task.FromResult(Failed(address, "unknown user or wrong password"));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(Principal(user.Name, user.Role, SchemeName), SchemeName)));
    }

    private AuthenticateResult Failed(string address, string why)
    {
        _throttle.Failed(address);
        _telemetry.LoginFailed("basic");
        return AuthenticateResult.Fail(why);
    }

    internal const string ThrottledKey = "moderation.review.throttled";

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.ContainsKey(ThrottledKey))
        {
            Response.StatusCode = StatusCodes429;
            Response.Headers.RetryAfter = _throttle.RetryAfterSeconds(ClientAddress.Of(Context)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Response.WriteAsJsonAsync(new { error = "too many failed logins from this address; try again later" }).ConfigureAwait(false);
            return;
        }
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Basic realm=\"moderation-review\", charset=\"UTF-8\"";
        await Response.WriteAsJsonAsync(new { error = "authentication required (HTTP Basic, a user of the users file)" }).ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        await Response.WriteAsJsonAsync(new { error = "forbidden for this role" }).ConfigureAwait(false);
    }

    private const int StatusCodes429 = 429;

    public static ClaimsPrincipal Principal(string name, string role, string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], scheme, ClaimTypes.Name, ClaimTypes.Role));
}
