using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Uploaders;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using StackExchange.Redis;

namespace Moderation.Streams.Review;

/// <summary>
/// Builds <c>moderation review</c>: the console and its API on <c>Review:Port</c> (every request authenticated: a cookie
/// from the login form for pages, HTTP Basic for <c>/api</c>), and <c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c> on
/// <c>Review:TelemetryPort</c> (nothing else answers there, and they do not answer on the console's port).
/// Configuration, later winning: appsettings.json, environment, <paramref name="overrides"/>.
/// </summary>
public static class ReviewHost
{
    public const string ApiPolicy = "review-api";
    public const string AdminPolicy = "review-admin";
    public const string PagePolicy = "review-page";
    private const string SelectorScheme = "review";
    private const string TelemetryConnection = "moderation.review.telemetry";

    public static WebApplication Build(IReadOnlyDictionary<string, string?> overrides, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.ClearProviders();
        if (logging is not null) logging(builder.Logging);
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);

        var config = builder.Configuration;
        var review = Bind<ReviewOptions>(config, "Review");
        review.PolicyFile ??= config["Screening:PolicyFile"];
        var kafka = Bind<KafkaOptions>(config, "Kafka");
        var media = config.GetSection("Media").Get<MediaOptions>() ?? new MediaOptions();
        media.Validate();
        string redisConfig = config["Redis:Configuration"] is { Length: > 0 } r ? r : "127.0.0.1:6379";
        var redisSecurity = config.GetSection("Redis:Security").Get<RedisSecurityOptions>();
        foreach (var problem in KafkaClientConfig.Problems(kafka)) throw new InvalidOperationException(problem);

        var services = builder.Services;
        services.AddSingleton(review);
        services.AddSingleton(kafka);
        services.AddSingleton(media);
        services.AddSingleton(TimeProvider.System);
        // A person waits on each call, not a pipeline: the console gives Redis more time than the worker's 1 s (the
        // configuration string may still say otherwise).
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(RedisConnector.CreateOptions("asyncTimeout=5000,syncTimeout=5000," + redisConfig, redisSecurity)));
        services.AddSingleton(sp => new ReviewStore(sp.GetRequiredService<IConnectionMultiplexer>(), review.KeyPrefix));
        services.AddSingleton(sp => new RedisBankStore(sp.GetRequiredService<IConnectionMultiplexer>(), review.KeyPrefix));
        services.AddSingleton(sp => new Moderation.Streams.Redis.DigestBanks.RedisDigestBankStore(sp.GetRequiredService<IConnectionMultiplexer>(), review.KeyPrefix));
        services.AddSingleton<IUploaderState>(sp => new RedisUploaderState(sp.GetRequiredService<IConnectionMultiplexer>(), review.KeyPrefix,
            resilience: new RedisCacheOptions { OperationTimeout = TimeSpan.FromSeconds(5) }));
        services.AddSingleton(_ => new VerdictPublisher(kafka, review.ReviewsTopic));
        var decisionTtl = config.GetValue<TimeSpan?>("Redis:DecisionTtl") ?? TimeSpan.FromDays(7);
        services.AddSingleton<Moderation.Streams.Redis.IDecisionCache>(sp =>
            new Moderation.Streams.Redis.RedisDecisionCache(sp.GetRequiredService<IConnectionMultiplexer>(), new RedisCacheOptions { KeyPrefix = review.KeyPrefix, Ttl = decisionTtl, OperationTimeout = TimeSpan.FromSeconds(5) }));
        services.AddSingleton(_ => new UploadLookup(kafka));
        services.AddSingleton(_ => new MediaReader(media));
        services.AddSingleton<MediaService>();
        services.AddSingleton(_ => new ReviewUsers(review.UsersFile));
        services.AddSingleton(_ => new LoginThrottle(review.LoginAttemptsPerMinute));
        services.AddSingleton<ReviewTelemetry>();
        services.AddSingleton<ReviewIngest>();
        services.AddHostedService(sp => sp.GetRequiredService<ReviewIngest>());
        services.AddSingleton<VerdictService>();
        services.AddHostedService(sp => sp.GetRequiredService<VerdictService>());
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("moderation-review"))
            .WithMetrics(m => m.AddMeter(ReviewTelemetry.MeterName, "System.Runtime").AddPrometheusExporter());

        // Cookie and antiforgery keys in Redis beside the queue: a restarted console keeps its reviewers logged in, and
        // replicas accept each other's cookies (without it each process makes its own keys in memory).
        services.AddDataProtection().SetApplicationName("moderation-review");
        services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
            .Configure<IConnectionMultiplexer>((o, redis) => o.XmlRepository =
                new Microsoft.AspNetCore.DataProtection.StackExchangeRedis.RedisXmlRepository(() => redis.GetDatabase(), review.KeyPrefix + "{review}:dataprotection"));
        AddAuthentication(services, review);
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "moderation.review.af";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__af";
        });

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = review.MaxRequestBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.AddServerHeader = false;
            var address = IPAddress.Parse(review.BindAddress);
            k.Listen(address, review.Port);
            if (review.TelemetryPort >= 0)
                k.Listen(address, review.TelemetryPort, l => l.Use(next => connection =>
                {
                    connection.Items[TelemetryConnection] = true;
                    return next(connection);
                }));
        });

        if (review.TrustedProxies.Length > 0)
            services.Configure<ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear();
                foreach (var proxy in review.TrustedProxies)
                {
                    if (IPAddress.TryParse(proxy, out var one)) o.KnownProxies.Add(one);
                    else o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
                }
            });

        var app = builder.Build();
        if (review.TrustedProxies.Length > 0) app.UseForwardedHeaders();
        app.Use(async (http, next) =>
        {
            bool telemetry = http.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(TelemetryConnection) == true;
            bool telemetryPath = http.Request.Path.Equals("/metrics") || http.Request.Path.Equals("/healthz") || http.Request.Path.Equals("/readyz");
            if (telemetry != telemetryPath)
            {
                http.Response.StatusCode = 404;
                return;
            }
            SecurityHeaders.Apply(http.Response);
            if (CrossSiteApiWrite(http.Request) is { } refusal)
            {
                http.Response.StatusCode = 403;
                await http.Response.WriteAsJsonAsync(new { error = refusal }).ConfigureAwait(false);
                return;
            }
            await next(http).ConfigureAwait(false);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        app.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();
        app.MapGet("/readyz", async (IConnectionMultiplexer redis, ReviewIngest ingest, ReviewUsers users) =>
        {
            string redisState;
            try
            {
                await redis.GetDatabase().PingAsync().ConfigureAwait(false);
                redisState = "ok";
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                redisState = "unavailable";
            }
            bool assigned = ingest.Assigned.IsCompleted;
            int userCount = users.Current.Count;
            bool ready = redisState == "ok" && assigned && userCount > 0;
            return Results.Json(new { ready, redis = redisState, queue_consumer = assigned ? "assigned" : "waiting", users = userCount, users_problem = users.Problem },
                statusCode: ready ? 200 : 503);
        }).AllowAnonymous();
        ReviewApi.Map(app);
        ConsolePages.Map(app);
        return app;
    }

    /// <summary>
    /// Why a write to the API is refused as coming from another site, or null. A browser that once answered the API's
    /// Basic challenge keeps sending those credentials, so another page could make it POST to the API (a claim, a verdict
    /// as a <c>text/plain</c> form): such a request carries <c>Sec-Fetch-Site: cross-site</c> or a foreign <c>Origin</c>.
    /// Scripts and tools send neither.
    /// </summary>
    public static string? CrossSiteApiWrite(HttpRequest request)
    {
        if (!request.Path.StartsWithSegments("/api") || HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) return null;
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none")) return "cross-site request refused";
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && (!Uri.TryCreate(origin, UriKind.Absolute, out var o) || !string.Equals(o.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)))
            return "cross-origin request refused";
        return null;
    }

    private static void AddAuthentication(IServiceCollection services, ReviewOptions review)
    {
        var auth = services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "cookie for pages, Basic for the API", o => o.ForwardDefaultSelector = http =>
                http.Request.Path.StartsWithSegments("/api") ? BasicAuthenticationHandler.SchemeName : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddScheme<AuthenticationSchemeOptions, BasicAuthenticationHandler>(BasicAuthenticationHandler.SchemeName, null)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, o =>
            {
                o.Cookie.Name = "moderation.review";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.LoginPath = "/login";
                o.LogoutPath = "/logout";
                o.AccessDeniedPath = "/denied";
                o.ExpireTimeSpan = TimeSpan.FromHours(8);
                o.SlidingExpiration = true;
            });
        if (review.Oidc.Enabled)
        {
            auth.AddOpenIdConnect("oidc", o =>
            {
                o.Authority = review.Oidc.Authority;
                o.ClientId = review.Oidc.ClientId;
                o.ClientSecret = review.Oidc.ClientSecretFile is { Length: > 0 } file ? File.ReadAllText(file).Trim() : review.Oidc.ClientSecret;
                o.ResponseType = "code";
                o.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                o.TokenValidationParameters.RoleClaimType = review.Oidc.RoleClaim;
                o.TokenValidationParameters.NameClaimType = "preferred_username";
                o.Events.OnTokenValidated = ctx =>
                {
                    var principal = ctx.Principal!;
                    var role = principal.IsInRole(ReviewRoles.Admin) ? ReviewRoles.Admin : principal.IsInRole(ReviewRoles.Reviewer) ? ReviewRoles.Reviewer : null;
                    var name = principal.Identity?.Name;
                    if (role is null || name is null || !ReviewUsers.IsValidName(name))
                    {
                        ctx.Fail("the identity provider gave this user neither the reviewer nor the admin role");
                        return Task.CompletedTask;
                    }
                    ctx.Principal = BasicAuthenticationHandler.Principal(name, role, CookieAuthenticationDefaults.AuthenticationScheme);
                    return Task.CompletedTask;
                };
            });
        }
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole(ReviewRoles.Reviewer, ReviewRoles.Admin).Build())
            .AddPolicy(ApiPolicy, p => p.AddAuthenticationSchemes(BasicAuthenticationHandler.SchemeName).RequireAuthenticatedUser().RequireRole(ReviewRoles.Reviewer, ReviewRoles.Admin))
            .AddPolicy(AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(ReviewRoles.Admin))
            .AddPolicy(PagePolicy, p => p.AddAuthenticationSchemes(CookieAuthenticationDefaults.AuthenticationScheme).RequireAuthenticatedUser().RequireRole(ReviewRoles.Reviewer, ReviewRoles.Admin));
    }

    /// <summary>The console's address (after start), e.g. <c>http://127.0.0.1:8080</c>, and the telemetry port's.</summary>
    public static (Uri Console, Uri? Telemetry) ListeningOn(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("://0.0.0.0", "://127.0.0.1").Replace("://[::]", "://127.0.0.1"))).ToList();
        return (addresses[0], addresses.Count > 1 ? addresses[1] : null);
    }

    private static T Bind<T>(IConfiguration config, string section) where T : class, new()
    {
        var value = config.GetSection(section).Get<T>() ?? new T();
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(value, new(value), results, validateAllProperties: true))
            throw new Microsoft.Extensions.Options.OptionsValidationException(section, typeof(T), [.. results.Select(r => $"{section}: {r.ErrorMessage}")]);
        return value;
    }
}
