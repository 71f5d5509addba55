"""Merchant web pages of mini programs, under /miniprograms/."""

from django.urls import path

from . import views

app_name = "miniprograms"

urlpatterns = [
    path("miniprograms/", views.miniprogram_list, name="list"),
    path("miniprograms/new/", views.miniprogram_create, name="create"),
    path("miniprograms/<int:pk>/", views.miniprogram_detail, name="detail"),
    path("miniprograms/<int:pk>/links/", views.profile_link_request, name="link-request"),
    path("miniprograms/<int:pk>/links/<int:link_id>/unlink/", views.profile_link_unlink, name="link-unlink"),
    path("miniprograms/<int:pk>/links/<int:link_id>/share/", views.share_create, name="share"),
]
