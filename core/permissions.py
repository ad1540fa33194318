from rest_framework.permissions import BasePermission


class StaffWithPerms(BasePermission):
    """Staff users holding every permission the view lists in `required_perms`
    (a dict of HTTP method → perms, or a tuple for all methods)."""

    message = "Staff permission required."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        perms = getattr(view, "required_perms", ())
        if isinstance(perms, dict):
            perms = perms.get(request.method, ())
        return user.has_perms(perms)


class ReadAnyoneWriteStaff(StaffWithPerms):
    """Catalog reads are public; writes need staff permissions."""

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().has_permission(request, view)
