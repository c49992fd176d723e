"""Routes of the auth endpoints; any other path falls through to the site's empty 404."""

from django.urls import path

from handlers.auth import views

urlpatterns = [
    path("session", views.SessionView.as_view(), name="auth-session"),
    path("user", views.UsersView.as_view(), name="auth-users"),
    path("user/<path:name>", views.UserView.as_view(), name="auth-user"),
    path("blacklist/token", views.BanTokenView.as_view(), name="auth-ban-token"),
    path("blacklist/user", views.BanUserView.as_view(), name="auth-ban-user"),
]
