from django.contrib import admin

from .models import PlaygroundRun, RunOutput, TestInput, TestSet, TestSetRun


class RunOutputInline(admin.TabularInline):
    model = RunOutput
    extra = 0


@admin.register(PlaygroundRun)
class PlaygroundRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "use_case", "created_at")
    inlines = [RunOutputInline]


class TestInputInline(admin.TabularInline):
    model = TestInput
    extra = 0


@admin.register(TestSet)
class TestSetAdmin(admin.ModelAdmin):
    list_display = ("name", "use_case")
    inlines = [TestInputInline]


@admin.register(TestSetRun)
class TestSetRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "test_set", "created_at")
