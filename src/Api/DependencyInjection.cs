using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.OpenApi;
using OrdersEs.Api.Admin;
using OrdersEs.Api.Http;
using OrdersEs.Api.Operations;
using OrdersEs.Api.Orders;
using OrdersEs.Api.Pipeline;

namespace OrdersEs.Api;

/// <summary>The Api layer's registrations and its HTTP pipeline.</summary>
public static class DependencyInjection
{
    /// <summary>Mediator with its validation and logging pipeline, problem details, OpenAPI, limits, the admin options and OTLP export.</summary>
    public static IServiceCollection AddApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMediator((MediatorOptions options) =>
        {
            options.ServiceLifetime = ServiceLifetime.Singleton;
            options.PipelineBehaviors = [typeof(LoggingBehavior<,>), typeof(ValidationBehavior<,>)];
        });
        services.AddValidatorsFromAssemblyContaining<PlaceOrderValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        services.AddSingleton<OrderWriter>();

        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            ApiProblems.Complete(context.HttpContext, context.ProblemDetails));
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Binding failures (malformed JSON, wrong types, wrong content type) throw, so the handler above answers them.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            options.SerializerOptions.AllowDuplicateProperties = false; // {"id":"a","id":"b"} means nothing certain
            options.SerializerOptions.Converters.Add(new PlainTextJsonConverter());
        });
        services.Configure<KestrelServerOptions>(options =>
        {
            options.Limits.MaxRequestBodySize = RequestBodyLimit.MaxBytes;
            // Header values as Latin-1 (obs-text, RFC 9110 5.5) rather than refused by the server with a bare 400:
            // the API's own checks then answer a problem naming the header.
            options.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        });

        services.AddOptions<AdminOptions>().Bind(configuration.GetSection(AdminOptions.SectionKey));
        services.AddObservability(configuration);
        services.AddOpenApi(options => options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true)
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(HeaderParameter(ApiRequestContext.TenantHeader, "The tenant; a tenant sees and changes only its own orders."));
                operation.Parameters.Add(HeaderParameter(ApiRequestContext.CorrelationHeader, "Stored in the events' metadata and echoed; generated when absent."));
            }
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>The middleware and every endpoint: orders, admin, health, OpenAPI and Swagger UI.</summary>
    public static WebApplication UseApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RequestBodyLimit.Middleware);
        app.Use(RequestCharset.Middleware);
        app.Use(PlainText.Middleware);
        app.Use(ApiRequestContext.Middleware);
        app.MapOrders();
        app.MapAdmin();
        app.MapOperations();
        return app;
    }

    private static OpenApiParameter HeaderParameter(string name, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = false,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
    };
}
