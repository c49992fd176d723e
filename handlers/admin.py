from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from handlers.auth import accounts
from handlers.models import AgentUser, BannedToken, CustomHandler, NodeTransport
from poa_backend.core.plugins import listener_from_options


@admin.register(CustomHandler)
class CustomHandlerAdmin(admin.ModelAdmin):
    list_display = ["name", "class_path", "enabled", "listener", "updated_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "class_path"]

    @admin.display(description="listener")
    def listener(self, row: CustomHandler) -> str:
        listener = listener_from_options(row.options)
        return listener.url if listener else "-"


class AgentUserAddForm(forms.ModelForm):
    """Only a name (generated when left blank); the password is generated and shown once."""

    name = forms.CharField(
        max_length=150, required=False, help_text="Leave blank to generate 8 random URL-safe characters."
    )

    class Meta:
        model = AgentUser
        fields = ["name", "is_active"]


@admin.register(AgentUser)
class AgentUserAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    actions = ["activate", "deactivate"]

    def get_form(self, request: HttpRequest, obj: AgentUser | None = None, **kwargs: Any) -> type:
        if obj is None:
            kwargs["form"] = AgentUserAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: AgentUser | None = None) -> list[str]:
        return ["name", "is_active"] if obj is None else ["name", "is_active", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: AgentUser | None = None) -> list[str]:
        return [] if obj is None else ["name", "created_at"]

    def save_model(self, request: HttpRequest, obj: AgentUser, form: forms.Form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        password = accounts.generate_secret(accounts.GENERATED_PASSWORD_LENGTH)
        obj.name = obj.name or accounts.generate_secret(accounts.GENERATED_NAME_LENGTH)
        obj.set_password(password)
        super().save_model(request, obj, form, change)
        request._agent_password = password  # for response_add, never stored

    def response_add(self, request: HttpRequest, obj: AgentUser, post_url_continue: str | None = None) -> Any:
        """Show the generated credentials on this one page instead of redirecting."""
        return TemplateResponse(
            request,
            "admin/handlers/agentuser/credentials.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Agent user created",
                "user_name": obj.name,
                "password": request._agent_password,
            },
        )

    @admin.action(description="Activate selected agent users")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = accounts.set_active(list(queryset.values_list("name", flat=True)), True)
        self.message_user(request, f"{count} agent user(s) activated.")

    @admin.action(description="Deactivate (ban) selected agent users: their tokens stop working")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = accounts.set_active(list(queryset.values_list("name", flat=True)), False)
        self.message_user(request, f"{count} agent user(s) deactivated.")


@admin.register(BannedToken)
class BannedTokenAdmin(admin.ModelAdmin):
    """Bans are made over the API or by deactivating users; deleting a row lifts the ban."""

    list_display = ["jti", "user_name", "expires_at", "banned_at"]
    search_fields = ["jti", "user_name"]
    date_hierarchy = "expires_at"
    readonly_fields = ["jti", "user_name", "expires_at", "banned_at"]
    actions = ["purge_expired"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BannedToken | None = None) -> bool:
        return False

    @admin.action(description="Purge every expired banned token")
    def purge_expired(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{accounts.purge_expired_bans()} expired banned token(s) purged.")


@admin.register(NodeTransport)
class NodeTransportAdmin(admin.ModelAdmin):
    """Recorded by the handlers as nodes announce themselves; read-only here."""

    list_display = ["agent_id", "transport", "client", "user_name", "last_seen"]
    list_filter = ["transport"]
    search_fields = ["agent_id", "client", "user_name"]
    readonly_fields = ["agent_id", "transport", "client", "user_name", "last_seen"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: NodeTransport | None = None) -> bool:
        return False
